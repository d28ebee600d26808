"""Prometheus metrics of the gateway: counters read from the components at scrape time (no cost
per point), plus histograms of batch commit time and source-to-commit latency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from gateway.runtime import Gateway

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75,
                   1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)  # fmt: skip
STATES = ("connected", "disconnected", "backoff")


class GatewayMetrics:
    """A registry of the gateway's own (tests run several gateways in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.batch_seconds = Histogram(
            "gateway_batch_commit_seconds",
            "Time to write one batch (COPY, marks, NOTIFY, commit)",
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.latency_seconds = Histogram(
            "gateway_latency_seconds",
            "Source timestamp to commit, sampled per batch (live batches only)",
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )

    def attach(self, gateway: Gateway) -> None:
        """Export `gateway`'s counters."""
        self.registry.register(_Collector(gateway))


class _Collector(Collector):
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        g = self.gateway
        stats = g.forwarder.stats
        spool = g.forwarder.spool
        info = GaugeMetricFamily("gateway_info", "The running gateway", labels=["gateway_id"])
        info.add_metric([g.gateway_id], 1)
        yield info
        received = CounterMetricFamily(
            "gateway_points_received", "Points read from devices", labels=["device"]
        )
        for device, n in sorted(g.pipeline.points_in.items()):
            received.add_metric([device], n)
        yield received
        yield CounterMetricFamily(
            "gateway_points_filtered",
            "Points not written by report-by-exception (unchanged or within the deadband)",
            value=g.pipeline.rbe.suppressed,
        )
        yield CounterMetricFamily(
            "gateway_points_written", "Points committed to the database", value=stats.rows_written
        )
        yield CounterMetricFamily(
            "gateway_points_deduplicated",
            "Points skipped because the database already had them (replays)",
            value=stats.rows_deduplicated,
        )
        yield CounterMetricFamily(
            "gateway_points_spooled", "Points written to the spool", value=stats.rows_spooled
        )
        yield CounterMetricFamily(
            "gateway_points_replayed", "Spooled points committed", value=stats.rows_replayed
        )
        dropped = CounterMetricFamily(
            "gateway_points_dropped", "Points lost, by reason", labels=["reason"]
        )
        dropped.add_metric(["spool_overflow"], stats.rows_dropped)
        dropped.add_metric(["rejected"], stats.rows_rejected)
        dropped.add_metric(["spool_error"], stats.rows_lost)
        yield dropped
        yield CounterMetricFamily(
            "gateway_batches_written", "Batches committed", value=stats.batches_written
        )
        yield CounterMetricFamily(
            "gateway_spool_batches_dropped",
            "Spooled batches dropped by the overflow policy (drop oldest)",
            value=stats.batches_dropped,
        )
        yield GaugeMetricFamily("gateway_spool_batches", "Batches in the spool", value=len(spool))
        yield GaugeMetricFamily("gateway_spool_rows", "Points in the spool", value=spool.rows)
        yield GaugeMetricFamily("gateway_spool_bytes", "Bytes in the spool", value=spool.bytes)
        yield GaugeMetricFamily(
            "gateway_spool_max_bytes", "Spool bound (oldest dropped beyond)", value=spool.max_bytes
        )
        yield GaugeMetricFamily(
            "gateway_queue_rows",
            "Points waiting in memory for the database",
            value=g.forwarder.queued_rows + g.batcher.pending_rows,
        )
        yield GaugeMetricFamily(
            "gateway_database_up", "1 while the database accepts writes", value=int(stats.db_up)
        )
        yield GaugeMetricFamily("gateway_signals", "Signals declared", value=len(g.signals.specs))
        up = GaugeMetricFamily(
            "gateway_device_up", "1 while the device link is up", labels=["device", "protocol"]
        )
        state = GaugeMetricFamily(
            "gateway_device_state", "Device link state (1 for the current one)",
            labels=["device", "state"],
        )  # fmt: skip
        reconnects = CounterMetricFamily(
            "gateway_device_reconnects", "Times the link came back", labels=["device"]
        )
        last = GaugeMetricFamily(
            "gateway_device_last_data_timestamp_seconds",
            "Unix time of the last data from the device",
            labels=["device"],
        )
        for name, link in sorted(g.links.links.items()):
            up.add_metric([name, link.protocol], int(link.state == "connected"))
            for s in STATES:
                state.add_metric([name, s], int(link.state == s))
            reconnects.add_metric([name], link.reconnect_count)
            if link.last_data_at is not None:
                last.add_metric([name], link.last_data_at.timestamp())
        yield up
        yield state
        yield reconnects
        yield last
        malformed = CounterMetricFamily(
            "gateway_mqtt_malformed",
            "MQTT messages whose payload could not be mapped",
            labels=["device", "reason"],
        )
        for name, connector in sorted(g.mqtt_connectors().items()):
            for reason, n in sorted(connector.malformed.items()):
                malformed.add_metric([name, reason], n)
        yield malformed
        draining = GaugeMetricFamily(
            "gateway_mqtt_retired_sessions",
            "MQTT sessions of retired gateway processes not yet drained and deleted",
            value=sum(d.state != "done" for d in g.drainers),
        )
        yield draining
        drained = CounterMetricFamily(
            "gateway_mqtt_drained_messages",
            "Messages received from retired sessions while draining them",
            labels=["device", "client_id"],
        )
        for d in g.drainers:
            drained.add_metric([d.session.device.name, d.session.client_id], d.messages)
        yield drained
