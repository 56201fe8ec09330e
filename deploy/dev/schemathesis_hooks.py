"""Schemathesis hooks for Aegis' GraphQL endpoint (loaded by deploy/dev/schemathesis through SCHEMATHESIS_HOOKS).

A domain error in `errors` (NOT_FOUND, VALIDATION, FORBIDDEN...) is a correct answer to a random query, so
schemathesis' own `not_a_server_error` is replaced by `aegis_answers_with_codes`: a failure is an HTTP 5xx,
a body that is not JSON, or an error whose `extensions.code` is missing or INTERNAL. UNAUTHENTICATED fails
too, except from `login` (a wrong password): the fuzzing user's session must last the whole run, or the
rest of it would test nothing but the sign-in check.
"""

import schemathesis
from hypothesis import strategies as st
from hypothesis_graphql import nodes


@schemathesis.check
def aegis_answers_with_codes(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as error:
        raise AssertionError(f"the answer is not JSON: {error}") from None
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code is None or code == "INTERNAL":
            raise AssertionError(f"error without a domain code: {error}")
        if code == "UNAUTHENTICATED" and case.operation.label != "Mutation.login":
            raise AssertionError(f"the fuzzing session ended: {error}")


# `importCampaignStream(stream: JSON)` takes any JSON value; without a strategy schemathesis skips the operation.
schemathesis.graphql.scalar("JSON", st.text(max_size=64).map(nodes.String))
