# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes resource quantities ("10Gi", "250m", "1.5G"): parse and compare."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIXES = {
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(r"^(?P<number>[+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def parse_quantity(value):
    """The quantity's value as a Decimal (bytes or cores); ValueError if it is not a quantity."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError("%r is not a Kubernetes quantity (examples: 10Gi, 512Mi, 250m, 2)" % (value,))
    try:
        number = Decimal(match.group("number"))
    except InvalidOperation:
        raise ValueError("%r is not a Kubernetes quantity" % (value,)) from None
    return number * _SUFFIXES[match.group("suffix") or ""]


def is_quantity(value):
    try:
        parse_quantity(value)
    except ValueError:
        return False
    return True
