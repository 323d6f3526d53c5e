"""The NCALayer-compatible endpoint ``/``: one session per connection (:mod:`.session`),
translating ``kz.gov.pki.knca.commonUtils`` (:mod:`.commonutils`) and
``kz.gov.pki.knca.basics`` (:mod:`.basics`) to the native handlers and :class:`KeyAccess`;
:mod:`.timestamps` is the endpoint's TSA (NCA's unless ``tsa-url`` says otherwise)."""
