"""Prometheus metrics of the live pipeline (``prometheus_client``), served by the API at ``/api/metrics``.

Latencies are histograms observed where they happen, so a scrape shows their
distribution over any window (``rate(..._sum) / rate(..._count)``, quantiles
with ``histogram_quantile``), not a lifetime mean. Counters that the runner
already keeps (frames per camera, drops, camera states) are read from
:meth:`LiveRunner.status` at scrape time by :class:`RunnerCollector`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

#: Per analysed frame, from submission to the shared detector to its detections (queueing and inference).
DETECTOR_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: From the decoding of the frame that caused an event to the event being in the database.
EVENT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


class RunnerMetrics:
    """The histograms of one :class:`~vigil.pipeline.runner.LiveRunner`, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.detector_latency = Histogram(
            "vigil_detector_latency_seconds",
            "Time from an analysed frame's submission to the shared detector to its detections (queue and "
            "inference).",
            buckets=DETECTOR_BUCKETS,
            registry=self.registry,
        )
        self.event_latency = Histogram(
            "vigil_event_latency_seconds",
            "Time from the decoding of the frame that caused an incident event to the event being stored "
            "(analysis, journal and database; longer during a database outage).",
            ["state"],
            buckets=EVENT_BUCKETS,
            registry=self.registry,
        )


class RunnerCollector:
    """Per-camera counters and states from a runner's :meth:`status`, read at scrape time.

    Parameters
    ----------
    status : callable
        ``LiveRunner.status``.
    histograms : CollectorRegistry, optional
        The runner's :class:`RunnerMetrics` registry, exported alongside.
    """

    def __init__(self, status: Callable[[], dict[str, Any]], histograms: CollectorRegistry | None = None) -> None:
        self._status = status
        self._histograms = histograms

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        cams: dict[str, dict[str, Any]] = status.get("cameras", {})
        families = {
            "frames_in": CounterMetricFamily("vigil_frames_in", "Frames decoded per camera.", labels=["camera"]),
            "dropped": CounterMetricFamily(
                "vigil_frames_dropped", "Frames dropped per camera (the consumer was busy).", labels=["camera"]
            ),
            "analysis_dropped": CounterMetricFamily(
                "vigil_analysis_frames_dropped", "Frames to be analysed that were dropped.", labels=["camera"]
            ),
            "analysed": CounterMetricFamily("vigil_frames_analysed", "Frames analysed per camera.", labels=["camera"]),
            "errors": CounterMetricFamily(
                "vigil_frame_errors", "Frames whose processing failed, per camera.", labels=["camera"]
            ),
        }
        stalled = GaugeMetricFamily(
            "vigil_camera_analysis_stalled",
            "1 when frames arrive but analysis has not finished a frame for stall_timeout_s (e.g. a hung detector).",
            labels=["camera"],
        )
        for cam, values in sorted(cams.items()):
            for key, family in families.items():
                if key in values:
                    family.add_metric([cam], float(values[key]))
            stalled.add_metric([cam], float(values.get("state") == "stalled"))
        yield from families.values()
        yield stalled
        detector = status.get("detector", {})
        if "refused" in detector:
            refused = CounterMetricFamily(
                "vigil_detector_refused_frames", "Frames the shared detector refused (stuck or too far behind)."
            )
            refused.add_metric([], float(detector["refused"] + detector.get("timeouts", 0)))
            yield refused
        journal = status.get("journal")
        if journal is not None:
            waiting = GaugeMetricFamily(
                "vigil_events_waiting", "Incident events in the local journal that the database does not have yet."
            )
            waiting.add_metric([], float(journal["waiting"]))
            yield waiting
        if self._histograms is not None:
            yield from self._histograms.collect()
