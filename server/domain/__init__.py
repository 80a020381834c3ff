"""The programme's rules: pure functions on dataclasses, standard library only."""

from .config import Activity, ConfigError, Programme, load
from .rules import (
    Decision,
    RuleError,
    accrual_key,
    business_day,
    decide_tap,
    fine_discount_baht,
    message,
    privileges,
    semester_of,
)

__all__ = [
    "Activity",
    "ConfigError",
    "Decision",
    "Programme",
    "RuleError",
    "accrual_key",
    "business_day",
    "decide_tap",
    "fine_discount_baht",
    "load",
    "message",
    "privileges",
    "semester_of",
]
