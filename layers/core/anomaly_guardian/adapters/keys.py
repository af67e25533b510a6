"""The pseudonymisation key: SSM SecureString `PSEUDONYM_KEY_PARAM` in AWS, `GUARDIAN_PSEUDONYM_KEY` locally.

Read once per container (Powertools parameters cache, 5 minutes) so ingest (block-list lookups by
user) and the detector (everything it stores) derive the same pseudonyms.
"""

from __future__ import annotations

from anomaly_guardian.privacy import Pseudonymiser


def pseudonymiser_from_param(param: str | None, local_key: str | None = None) -> Pseudonymiser:
    """The key from the SSM SecureString named `param`; without one, `local_key` (GUARDIAN_PSEUDONYM_KEY)
    or the development key (privacy.Pseudonymiser)."""
    if param:
        from aws_lambda_powertools.utilities import parameters

        return Pseudonymiser(str(parameters.get_parameter(param, decrypt=True, max_age=300)).encode())
    return Pseudonymiser(local_key.encode() if local_key else None)
