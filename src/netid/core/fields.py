"""Request field types shared by every pydantic schema (the HTTP edge and the domain schemas)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def no_lone_surrogates(value: str) -> str:
    # JSON may carry "\ud800"; Python keeps it and fails later when encoding (SEC-46).
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text contains an unpaired surrogate") from None
    return value


Text = Annotated[str, AfterValidator(no_lone_surrogates)]
ShortText = Annotated[Text, StringConstraints(max_length=256)]
