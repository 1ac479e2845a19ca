"""Money: integer minor units plus an ISO 4217 alpha-3 code, as Dojo sends it."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from server.trusted import Trusted

# ISO 4217 active alpha-3 codes (list one, 2024), with the minor-unit exponent where it is not 2.
CURRENCIES: Final = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD
    EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD
    IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
    PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED
    VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()  # noqa: SIM905 (a table reads better as text)
)
EXPONENTS: Final = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}
SYMBOLS: Final = {"GBP": "£", "EUR": "€", "USD": "$"}
MAX_VALUE: Final = 10**13  # keeps every sum we take far inside a signed 64-bit column


class Money(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, strict=True, title="Money"
    )

    value: int = Field(
        ge=0, le=MAX_VALUE, description="The amount in the minor unit, for example 100 for 1.00 GBP."
    )
    currency_code: str = Field(min_length=1, max_length=10, description="ISO 4217 alpha-3 code.")

    @classmethod
    def of(cls, value: int, currency_code: str) -> Money:
        return _MONEY(value=value, currency_code=currency_code)

    def formatted(self) -> str:
        return format_amount(self.value, self.currency_code)


_MONEY: Final = Trusted(Money)  # an order read back holds a dozen or two


def is_currency(code: str) -> bool:
    return code in CURRENCIES


def format_amount(value: int, currency_code: str) -> str:
    exponent = EXPONENTS.get(currency_code, 2)
    sign = "-" if value < 0 else ""
    units, minor = divmod(abs(value), 10**exponent)
    number = f"{units:,}" + (f".{minor:0{exponent}d}" if exponent else "")
    symbol = SYMBOLS.get(currency_code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency_code}"
