"""``vigil run --cluster``: cameras in groups on Ray nodes, one PostgreSQL store, one console.

Ray is optional (``pip install -e .[cluster]``); nothing here imports it until a
cluster is started, so the embedded runner never needs it.
"""

from vigil.cluster.groups import ClusterError, group_config, plan_groups, require_ray

__all__ = ["ClusterError", "group_config", "plan_groups", "require_ray"]
