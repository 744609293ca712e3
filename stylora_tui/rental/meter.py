"""The meter: what the run has cost so far and what finishing it will, at the machine's price
per hour (`[rental] price_per_hour`, else what the provider says)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from stylora_tui.rental.provider import price_per_hour


@dataclass(frozen=True)
class Meter:
    price_per_hour: float
    so_far: float
    to_finish: float | None  # None while the time left is unknown

    def to_json(self) -> dict:
        return {"price_per_hour": self.price_per_hour, "so_far": round(self.so_far, 2), "to_finish": _cents(self.to_finish)}

    def line(self) -> str:
        """'$1.23 so far at $0.57/h, about $0.80 to finish'."""
        said = f"{money(self.so_far)} so far at {money(self.price_per_hour)}/h"
        return said + (f", about {money(self.to_finish)} to finish" if self.to_finish is not None else "")


def _cents(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def money(value: float | None) -> str:
    return "?" if value is None else f"${value:,.2f}"


def meter(price: float | None, elapsed_s: float, eta_s: float | None) -> Meter | None:
    if not price:
        return None
    return Meter(price, price * elapsed_s / 3600, price * eta_s / 3600 if eta_s is not None else None)


def machine_price(configured: float, env: Mapping[str, str] | None = None) -> float | None:
    """The configured price, else the provider's (asked once per process), else None."""
    if configured > 0:
        return configured
    return price_per_hour(env) if env is not None else _provider_price()


@functools.cache
def _provider_price() -> float | None:
    return price_per_hour()
