"""Every table's model, imported in one place for migrations and schema checks."""

from __future__ import annotations

from netid.accounts import models as accounts_models
from netid.admins import models as admins_models
from netid.audit import models as audit_models
from netid.billing import models as billing_models
from netid.citizens import models as citizens_models
from netid.consent import models as consent_models
from netid.db.base import Base
from netid.enrolment import models as enrolment_models
from netid.institutions import models as institutions_models
from netid.keys import models as keys_models
from netid.monitoring import models as monitoring_models
from netid.oauth import models as oauth_models
from netid.oidc import models as oidc_models
from netid.registry import models as registry_models
from netid.sms import models as sms_models
from netid.verification import models as verification_models

__all__ = [
    "Base",
    "accounts_models",
    "admins_models",
    "audit_models",
    "billing_models",
    "citizens_models",
    "consent_models",
    "enrolment_models",
    "institutions_models",
    "keys_models",
    "monitoring_models",
    "oauth_models",
    "oidc_models",
    "registry_models",
    "sms_models",
    "verification_models",
]
metadata = Base.metadata
