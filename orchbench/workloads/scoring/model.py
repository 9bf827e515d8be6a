"""The scoring server's model: its settings (``ServerConfig``), the named scenarios, and the deterministic fate of
every admitted request (``decide``). Pure Python, no aiohttp: the workload's limit and the tests reason with it
without a server. The server's behaviour is described in ``orchbench.workloads.scoring.server``."""

from __future__ import annotations

import enum
import hashlib
import math
from dataclasses import dataclass, field, fields, replace
from statistics import NormalDist
from typing import Any

DEFAULT_HOST = "127.0.0.1"
_STD_NORMAL = NormalDist()
MAX_Z = 4.0  # the lognormal latency is cut at 4 standard deviations (about 1 draw in 30,000 is cut)


@dataclass(frozen=True)
class ServerConfig:
    """Everything that shapes the server's answers. Times in seconds, rates as shares of admitted requests.

    Each field's ``help`` (in its metadata) is the help of its ``orchbench serve`` option, generated from it.
    """

    seed: int = field(default=0, metadata={"help": "Seed of the deterministic faults and latencies."})
    latency_median: float = field(default=0.0, metadata={"help": "Median latency in seconds."})
    latency_sigma: float = field(default=0.0, metadata={"help": "Lognormal shape of the latency."})
    slow_rate: float = field(default=0.0, metadata={"help": "Share of very slow answers (0-1)."})
    slow_latency: float = field(default=0.0, metadata={"help": "Latency of a very slow answer, in seconds."})
    capacity: int = field(default=0, metadata={"help": "Requests in flight before answering 429 (0: unlimited)."})
    retry_after: float = field(default=0.0, metadata={"help": "Seconds that 429 and 503 answers ask to wait."})
    rate_503: float = field(default=0.0, metadata={"help": "Share of 503 answers (0-1)."})
    rate_500: float = field(default=0.0, metadata={"help": "Share of 500 answers (0-1)."})
    drop_rate: float = field(default=0.0, metadata={"help": "Share of connections closed without an answer (0-1)."})
    malformed_rate: float = field(default=0.0, metadata={"help": "Share of 200 answers with a malformed body (0-1)."})
    hang_rate: float = field(default=0.0, metadata={"help": "Share of requests accepted and never answered (0-1)."})
    die_after: int = field(default=0, metadata={"help": "Kill the server at its N-th request (0: never)."})
    max_body: int = field(default=64 * 1024, metadata={"help": "Largest request body in bytes; larger ones get 413."})
    max_connections: int = field(default=4096, metadata={"help": "Connections kept open at once; more are closed."})

    def validate(self) -> ServerConfig:
        """Return self, or raise ValueError naming the first bad value."""
        from orchbench import MAX_DURATION_S  # the bound every duration option of a run has

        for name in ("latency_median", "latency_sigma", "slow_latency", "retry_after"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        for name in ("latency_median", "slow_latency", "retry_after"):
            value = getattr(self, name)
            if value > MAX_DURATION_S:
                raise ValueError(f"{name} must be at most a day ({MAX_DURATION_S:g} s), not {value:g}")
        longest = self.latency_median * math.exp(min(self.latency_sigma * MAX_Z, 700.0))
        if longest > MAX_DURATION_S:
            raise ValueError(
                f"latency_sigma {self.latency_sigma:g} with latency_median {self.latency_median:g} makes latencies "
                f"of up to {longest:.3g} s, more than a day"
            )
        for name in ("slow_rate", "rate_503", "rate_500", "drop_rate", "malformed_rate", "hang_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value!r}")
        if self.fault_rate > 1.0:
            raise ValueError(f"the fault rates add up to {self.fault_rate:g}, more than 1")
        if self.die_after < 0:
            raise ValueError(f"die_after must be >= 0 (0: never), not {self.die_after}")
        if self.capacity < 0:
            raise ValueError(f"capacity must be >= 0 (0: unlimited), not {self.capacity}")
        if self.max_body < 1024:
            raise ValueError(f"max_body must be at least 1024 bytes, not {self.max_body}")
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {self.max_connections}")
        return self

    def with_overrides(self, **changes: Any) -> ServerConfig:
        """A copy with the given fields changed; None values are ignored, unknown names raise ValueError."""
        known = {f.name: field_type(f.name) for f in fields(self)}
        given = {k: v for k, v in changes.items() if v is not None}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(f"unknown server setting {unknown[0]!r}")
        typed = {k: known[k](v) for k, v in given.items()}
        return replace(self, **typed)

    def scaled(self, factor: float) -> ServerConfig:
        """Every latency and the Retry-After wait multiplied by ``factor``."""
        return replace(
            self,
            latency_median=self.latency_median * factor,
            slow_latency=self.slow_latency * factor,
            retry_after=self.retry_after * factor,
        )

    @property
    def fault_rate(self) -> float:
        return self.rate_503 + self.rate_500 + self.drop_rate + self.malformed_rate + self.hang_rate

    def mean_latency(self) -> float:
        """Expected wait of an admitted request that is not answered 503."""
        lognormal_mean = self.latency_median * math.exp(self.latency_sigma**2 / 2)
        return (1 - self.slow_rate) * lognormal_mean + self.slow_rate * self.slow_latency


def field_type(name: str) -> type:
    """int or float: the type of a ServerConfig field."""
    return type(getattr(ServerConfig, name))


SCENARIOS: dict[str, ServerConfig] = {
    # The original server: ~4.15 s per request on average, and it sustained 2,048 concurrent requests.
    "original": ServerConfig(
        latency_median=3.52,
        latency_sigma=0.5,
        slow_rate=0.01,
        slow_latency=20.0,
        capacity=2048,
        retry_after=1.0,
        rate_503=0.02,
        rate_500=0.01,
        drop_rate=0.005,
        malformed_rate=0.005,
    ),
    # Fast enough that a good client scores the 20,507-line case in a few seconds.
    "default": ServerConfig(
        latency_median=0.05,
        latency_sigma=0.5,
        slow_rate=0.005,
        slow_latency=1.0,
        capacity=256,
        retry_after=0.05,
        rate_503=0.02,
        rate_500=0.01,
        drop_rate=0.005,
        malformed_rate=0.005,
    ),
    "none": ServerConfig(),
}


class Kind(str, enum.Enum):
    OK = "ok"
    UNAVAILABLE = "503"
    ERROR = "500"
    DROP = "drop"
    MALFORMED = "malformed"
    HANG = "hang"


@dataclass(frozen=True)
class Decision:
    """What the server does with one admitted request: how long it waits, then how it answers."""

    kind: Kind
    latency: float
    slow: bool = False
    variant: int = 0


def _unit(digest: bytes, i: int) -> float:
    """The i-th uniform number in (0, 1) taken from a digest, 8 bytes each."""
    return (int.from_bytes(digest[8 * i : 8 * i + 8], "big") + 0.5) / 2**64


def decide(config: ServerConfig, line: bytes, attempt: int) -> Decision:
    """The fate of the ``attempt``-th admitted request (0-based) for ``line``: a pure function of its arguments."""
    digest = hashlib.blake2b(
        b"%d\0%d\0" % (config.seed, attempt) + line, digest_size=32, person=b"orchbench-fault"
    ).digest()
    u_fault, u_slow, u_latency, u_variant = (_unit(digest, i) for i in range(4))
    slow = u_slow < config.slow_rate
    if slow:
        latency = config.slow_latency
    elif config.latency_sigma > 0:
        z = min(max(_STD_NORMAL.inv_cdf(u_latency), -MAX_Z), MAX_Z)
        latency = config.latency_median * math.exp(config.latency_sigma * z)
    else:
        latency = config.latency_median
    kind = Kind.OK
    edge = 0.0
    for candidate, rate in (
        (Kind.UNAVAILABLE, config.rate_503),
        (Kind.ERROR, config.rate_500),
        (Kind.DROP, config.drop_rate),
        (Kind.MALFORMED, config.malformed_rate),
        (Kind.HANG, config.hang_rate),
    ):
        edge += rate
        if u_fault < edge:
            kind = candidate
            break
    return Decision(kind, 0.0 if kind is Kind.UNAVAILABLE else latency, slow, int(u_variant * 2))


def format_retry_after(seconds: float) -> tuple[str, float]:
    """The ``Retry-After`` header value for a wait, rounded *up* to milliseconds, and the wait it states."""
    ms = max(0, math.ceil(round(seconds * 1000, 6)))
    text = str(ms // 1000) if ms % 1000 == 0 else f"{ms / 1000:.3f}".rstrip("0")
    return text, ms / 1000
