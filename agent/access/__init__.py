"""From a request to a key: the prompt gate, consent-guarded key access, the unlock window, the signing service, what the user is shown."""
