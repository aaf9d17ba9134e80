"""Fetching image URLs for the gateway, guarded against server-side request forgery.

Each hop resolves the host once, refuses the request if any address is not public
(loopback, private, link-local, shared, multicast, reserved, unspecified) unless it lies in a
network the policy allows, always refuses cloud metadata addresses, then connects to the
checked address itself (the Host header and TLS server name keep the host name, so
certificates are still verified). Redirects are followed by hand, each one checked the
same way, up to a limit. The body must say it is an image and stay under the size limit;
the whole fetch has one deadline. Error texts never repeat the URL.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

import anyio
import httpx

from veil.policy import ServerPolicy
from veil.server.schemas import ApiError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean ...
    "169.254.170.2",  # AWS ECS task metadata
    "169.254.169.123",  # AWS time sync
    "100.100.100.200",  # Alibaba Cloud
    "fd00:ec2::254",  # AWS IPv6
))
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchError(ApiError):
    """An image URL the gateway will not fetch, or whose fetch failed."""

    def __init__(self, number: int, reason: str, code: str = "image_fetch_failed",
                 status: int = 400) -> None:
        super().__init__(status, f"image {number}: {reason}", code)


def address_allowed(ip: IPAddress, allow: Sequence[IPNetwork] = ()) -> bool:
    """Whether the gateway may connect to ``ip`` to fetch an image."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA or ip.is_multicast or ip.is_unspecified:
        return False
    if any(ip.version == net.version and ip in net for net in allow):
        return True
    return ip.is_global and not ip.is_reserved


class Fetcher:
    """Fetches image bytes from http(s) URLs under the policy's guards. Reuse one."""

    def __init__(self, server: ServerPolicy, transport: httpx.AsyncBaseTransport | None = None
                 ) -> None:
        self._server = server
        # No environment proxies (they would bypass the address check), no connection reuse
        # (a pooled connection is keyed by address, not by the checked host name).
        self._client = httpx.AsyncClient(
            trust_env=False, follow_redirects=False, transport=transport,
            limits=httpx.Limits(max_keepalive_connections=0),
            timeout=httpx.Timeout(server.fetch_timeout),
            headers={"User-Agent": "veil-gateway", "Accept": "image/*"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str, number: int) -> tuple[bytes, str]:
        """(body, content type) of the image at ``url``; FetchError on any problem."""
        try:
            with anyio.fail_after(self._server.fetch_timeout):
                return await self._follow(url, number)
        except TimeoutError:
            raise FetchError(number, "fetching the image URL timed out") from None

    async def _follow(self, url: str, number: int) -> tuple[bytes, str]:
        current = _parse(url, number)
        for _ in range(self._server.fetch_max_redirects + 1):
            ip = await self._resolve(current, number)
            pinned = current.copy_with(host=str(ip))
            headers = {"Host": _host_header(current)}
            name = current.raw_host.decode("ascii")
            extensions = {"sni_hostname": name} if current.scheme == "https" else {}
            request = self._client.build_request("GET", pinned, headers=headers,
                                                 extensions=extensions)
            try:
                response = await self._client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise FetchError(number, f"image URL could not be fetched "
                                           f"({type(exc).__name__})") from None
            try:
                if response.status_code in REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(number, "image URL redirects without a location")
                    try:
                        current = _parse(str(current.join(location)), number)
                    except httpx.InvalidURL:
                        raise FetchError(number, "image URL redirects to an invalid URL",
                                           "invalid_image_url") from None
                    continue
                return await self._body(response, number)
            finally:
                await response.aclose()
        raise FetchError(number, f"image URL redirects more than "
                                   f"{self._server.fetch_max_redirects} times")

    async def _resolve(self, url: httpx.URL, number: int) -> IPAddress:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            infos = await anyio.getaddrinfo(url.raw_host.decode("ascii"), port,
                                            type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise FetchError(number, "image URL host cannot be resolved") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addresses:
            raise FetchError(number, "image URL host cannot be resolved")
        allow = self._server.fetch_allow_networks
        if not all(address_allowed(a, allow) for a in addresses):
            raise FetchError(number, "image URL points to a private, loopback, link-local, "
                                       "metadata or otherwise non-public address; refused",
                               "url_not_allowed")
        return addresses[0]

    async def _body(self, response: httpx.Response, number: int) -> tuple[bytes, str]:
        if response.status_code != 200:
            raise FetchError(number, f"image URL answered HTTP {response.status_code}")
        ctype = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if not ctype.startswith("image/"):
            raise FetchError(number, "image URL did not return an image (content type "
                                       f"{ctype[:40] or 'missing'})", "invalid_image")
        limit = self._server.fetch_max_bytes
        too_big = FetchError(number, f"image at URL is above the limit of {limit} bytes",
                               "image_too_large", 413)
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise too_big
        data = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > limit:
                    raise too_big
        except httpx.HTTPError as exc:
            raise FetchError(number, f"image download failed ({type(exc).__name__})") from None
        return bytes(data), ctype


def _parse(url: str, number: int) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = httpx.URL("")
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError(number, "image URL must be an http(s) URL or a data URL",
                           "invalid_image_url")
    if parsed.userinfo:
        raise FetchError(number, "image URL must not carry credentials", "invalid_image_url")
    return parsed


def _host_header(url: httpx.URL) -> str:
    name = url.raw_host.decode("ascii")
    host = f"[{name}]" if ":" in name else name
    return host if url.port is None else f"{host}:{url.port}"
