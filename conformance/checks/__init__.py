"""Rules every response must satisfy that a JSON schema cannot say, as Schemathesis checks.

Importing this package registers them; ``ALL`` lists them for reports.
"""

from conformance.checks.balanced import (
    balanced_page_links_lead_to_their_pages,
    balanced_refund_stays_within_its_debit,
)
from conformance.checks.common import (
    not_a_server_error_but_501_for_unlisted_methods,
    success_status_documented,
    unlisted_method_refused,
    valid_request_not_rejected_as_malformed,
)
from conformance.checks.marqeta import (
    marqeta_list_respects_its_filters,
    marqeta_list_sorted_as_requested,
    marqeta_page_envelope_is_consistent,
)

ALL = (
    not_a_server_error_but_501_for_unlisted_methods,
    unlisted_method_refused,
    success_status_documented,
    valid_request_not_rejected_as_malformed,
    marqeta_page_envelope_is_consistent,
    marqeta_list_sorted_as_requested,
    marqeta_list_respects_its_filters,
    balanced_page_links_lead_to_their_pages,
    balanced_refund_stays_within_its_debit,
)
