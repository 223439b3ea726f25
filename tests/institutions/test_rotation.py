"""A data-key rotation re-seals the institutions' sealed applications, so the old key can be
retired without losing the legal representatives' and contacts' details."""

from __future__ import annotations

import pytest

from netid.container import Container
from netid.institutions.schemas import ApplicationIn
from netid.keys.schemas import KeyPurpose
from tests.institutions.support import REP_NAME, application

pytestmark = pytest.mark.db


def test_rotation_reseals_applications_and_the_old_key_can_retire(container: Container) -> None:
    with container.transaction() as session:
        pending = container.institutions(session).apply(
            ApplicationIn.model_validate(application()), actor="applicant"
        )
        old = container.keyring().active(KeyPurpose.DATA).key_id
        assert container.institutions(session).references_to_key(old) == 1
        container.keyring_service(session).rotate(KeyPurpose.DATA)
    container.keyring(reload=True)
    with container.transaction() as session:
        service = container.institutions(session)
        assert service.reseal_applications(batch_size=10, actor="operator:test") == 1
        assert service.reseal_applications(batch_size=10, actor="operator:test") == 0
        assert service.references_to_key(old) == 0
        container.keyring_service(session).retire(old, references=0)
    container.keyring(reload=True)
    with container.transaction() as session:
        contacts = container.institutions(session).application_contacts(
            pending.id, actor="operator:test"
        )
    assert contacts.legal_representative["name"] == REP_NAME
