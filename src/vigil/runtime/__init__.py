"""Inference runtimes (onnxruntime sessions with explicit, verified providers)."""

from vigil.runtime.onnx import ProviderUnavailableError, cpu_cores, create_session, resolve_providers

__all__ = ["ProviderUnavailableError", "cpu_cores", "create_session", "resolve_providers"]
