"""One prompt at a time per user, and cooldowns for sites that keep getting denied.

A page must not be able to bury the user under dialogs (DESIGN.md, security rule 6):

* while one question is open every other request gets ``busy``;
* denials are counted per *site*, not per origin (:func:`site_of`): after
  :data:`MAX_DENIALS` denials in a row, every origin of the site is refused without a
  question for :data:`COOLDOWN` seconds (``origin_denied`` with ``retryAfter``), so a page
  cannot start over on a fresh subdomain (``a1.evil.test``, ``a2.evil.test`` …);
* and over all sites: after :data:`BURST_DENIALS` denials within :data:`BURST_WINDOW`
  seconds, origins the user has not approved in this run are refused without a question
  until the oldest of those denials leaves the window, so a page cannot start over on
  fresh domains either.  Origins the user approved (a site question or a confirmation)
  keep being asked, each under its own site's cooldown.

Nothing here grows with the number of origins a page invents: a site's record goes once
its row of denials is :data:`COOLDOWN` seconds old (or its cooldown ended), at most
:data:`MAX_SITES` records are kept (the oldest dropped first), at most
:data:`BURST_DENIALS` denial times and :data:`MAX_APPROVED` approved origins.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tanba.protocol.errors import Busy, OriginDenied

#: denials in a row after which a site cools down
MAX_DENIALS = 3
#: seconds a site cools down; also how long a row of denials is remembered
COOLDOWN = 300.0
#: denials (of all sites together) within BURST_WINDOW after which new origins are refused
BURST_DENIALS = 10
BURST_WINDOW = 60.0
#: sites whose denials are remembered, at most (the oldest record goes first)
MAX_SITES = 1024
#: origins remembered as approved in this run, at most
MAX_APPROVED = 256

#: second-level labels under which country domains register names: gov.kz, com.kz, co.uk …
SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gov", "mil", "net", "org"})


def site_of(origin: str) -> str:
    """The registrable domain of ``origin``, approximated without a public-suffix list.

    The last two labels of the host (``a.b.evil.test`` → ``evil.test``), or the last three
    when the host ends in a two-letter country code under a common second level
    (:data:`SECOND_LEVEL`: ``portal.gov.kz``, ``shop.com.kz``, ``x.co.uk``).  An IP literal
    is a site of its own, ``localhost`` and its subdomains are one site (``localhost``),
    and anything that is not a URL (``local program``) is its own site.  Scheme and port
    do not count: ``http://evil.test:8080`` and ``https://evil.test`` are one site.  Hosts
    that share a suffix the approximation does not know (``*.github.io``) share a site.
    """
    try:
        host = urlsplit(origin).hostname
    except ValueError:
        host = None
    if not host:
        return origin
    host = host.rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.split(".")
    if labels[-1] == "localhost":
        return "localhost"
    if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _seconds(delay: float) -> int:
    """``retryAfter``: whole seconds, never 0."""
    return int(delay) + 1


@dataclass(slots=True)
class _Site:
    denials: int = 0
    last_denial: float = 0.0
    cooldown_until: float = 0.0

    def expires(self, cooldown: float) -> float:
        return max(self.cooldown_until, self.last_denial + cooldown)


@dataclass
class PromptGate:
    max_denials: int = MAX_DENIALS
    cooldown: float = COOLDOWN
    clock: Callable[[], float] = time.monotonic
    burst_denials: int = BURST_DENIALS
    burst_window: float = BURST_WINDOW
    max_sites: int = MAX_SITES
    max_approved: int = MAX_APPROVED
    _active: str | None = None
    #: site → its denials, oldest last denial first
    _sites: OrderedDict[str, _Site] = field(default_factory=OrderedDict)
    #: times of the latest denials, all sites together (at most burst_denials)
    _denials: deque[float] = field(default_factory=deque)
    #: origins whose latest answer was a yes, least recent first
    _approved: OrderedDict[str, None] = field(default_factory=OrderedDict)

    @property
    def active(self) -> bool:
        return self._active is not None

    def check_cooldown(self, origin: str) -> None:
        """Raise ``origin_denied`` (with ``retryAfter``) when ``origin`` may not be asked now."""
        now = self.clock()
        self._prune(now)
        site = site_of(origin) if self._sites else None  # no denials on record: no site cools down
        record = self._sites.get(site) if site is not None else None
        if record is not None and record.cooldown_until > now:
            raise OriginDenied(
                f"{site} is cooling down after repeated denials", retryAfter=_seconds(record.cooldown_until - now)
            )
        if origin not in self._approved and 0 < self.burst_denials <= len(self._denials):
            until = self._denials[0] + self.burst_window
            raise OriginDenied(
                f"{len(self._denials)} questions denied within {self.burst_window:g} s; {origin} is not asked",
                retryAfter=_seconds(until - now),
            )

    @asynccontextmanager
    async def turn(self, origin: str) -> AsyncIterator[None]:
        """Hold the one prompt slot while asking the user about ``origin``."""
        self.check_cooldown(origin)
        if self._active is not None:
            raise Busy(f"a prompt for {self._active} is open")
        self._active = origin
        try:
            yield
        finally:
            self._active = None

    def denied(self, origin: str) -> None:
        now = self.clock()
        self._prune(now)
        site = site_of(origin)
        record = self._sites.pop(site, None) or _Site()
        record.denials += 1
        record.last_denial = now
        if record.denials >= self.max_denials:
            record.denials = 0
            record.cooldown_until = now + self.cooldown
        self._sites[site] = record  # the newest last
        while len(self._sites) > self.max_sites:
            self._sites.popitem(last=False)
        self._denials.append(now)
        while len(self._denials) > self.burst_denials:
            self._denials.popleft()
        self._approved.pop(origin, None)

    def approved(self, origin: str) -> None:
        """A yes breaks the site's row of denials (a cooldown under way stays)."""
        if self._sites:
            site = site_of(origin)
            record = self._sites.get(site)
            if record is not None and record.cooldown_until <= self.clock():
                del self._sites[site]
        self._approved[origin] = None
        self._approved.move_to_end(origin)
        while len(self._approved) > self.max_approved:
            self._approved.popitem(last=False)

    def admitted(self, origin: str) -> None:
        """``origin`` was let in without a question (allow-listed, or approved in an earlier
        run): exempt it from the overall limit, as one approved in this run is, without
        touching its site's row of denials."""
        if origin not in self._approved:
            self._approved[origin] = None
            while len(self._approved) > self.max_approved:
                self._approved.popitem(last=False)

    def _prune(self, now: float) -> None:
        """Forget what has expired: denials older than the burst window, site records
        whose row of denials and cooldown are over (oldest first, so this stays cheap)."""
        while self._denials and self._denials[0] + self.burst_window <= now:
            self._denials.popleft()
        while self._sites:
            site, record = next(iter(self._sites.items()))
            if record.expires(self.cooldown) > now:
                break
            del self._sites[site]
