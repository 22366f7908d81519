"""PROPFIND on the read-only views (dav/propfind.py's string multistatus), checked as XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from dav_support import app_password, dav, dav_server  # noqa: F401  (fixture)
from http_support import Server, jpeg_with_exif

D = "{DAV:}"


def responses(body: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(body)
    assert root.tag == D + "multistatus"
    return {unquote(r.findtext(D + "href") or ""): r for r in root.findall(D + "response")}


def propstats(response: ET.Element) -> dict[str, dict[str, ET.Element]]:
    """status line → {property tag: element}"""
    out: dict[str, dict[str, ET.Element]] = {}
    for ps in response.findall(D + "propstat"):
        status = (ps.findtext(D + "status") or "").split(" ", 1)[1]
        out[status] = {p.tag: p for p in ps.find(D + "prop") or []}
    return out


def test_view_propfind_answers_allprop_prop_and_propname(dav_server: Server) -> None:
    user = dav_server.new_user()
    secret = app_password(user)
    data = jpeg_with_exif(1201, "Pixel", "8", taken="2019:03:04 10:00:00")
    user.upload(data, filename="a&b <1>.jpg").raise_for_status()
    photo = user.client().get("/api/timeline").json()["days"][0]["photos"][0]
    with dav(dav_server, user, secret) as client:
        r = client.request("PROPFIND", "/Library/2019/2019-03/", headers={"Depth": "1"})
        assert r.status_code == 207 and r.headers["content-type"].startswith("application/xml")
        found = responses(r.content)
        assert set(found) == {"/dav/Library/2019/2019-03/", "/dav/Library/2019/2019-03/a&b <1>.jpg"}
        folder = propstats(found["/dav/Library/2019/2019-03/"])["200 OK"]
        assert folder[D + "resourcetype"].find(D + "collection") is not None
        item = propstats(found["/dav/Library/2019/2019-03/a&b <1>.jpg"])["200 OK"]
        assert item[D + "getcontentlength"].text == str(len(data))
        assert item[D + "getcontenttype"].text == "image/jpeg"
        assert item[D + "displayname"].text == "a&b <1>.jpg"
        assert item[D + "getetag"].text.strip('"') == client.head("/Library/2019/2019-03/a&b <1>.jpg").headers["etag"].strip('"')
        assert len(item[D + "resourcetype"]) == 0 and len(item[D + "supportedlock"]) == 0
        parsedate_to_datetime(item[D + "getlastmodified"].text)  # RFC 1123
        assert item[D + "creationdate"].text.endswith("Z")
        # Named properties: known ones 200, unknown ones (any namespace) 404 in their own propstat.
        body = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:X="urn:x"><D:prop>'
                b'<D:getcontentlength/><D:getlastmodified/><X:colour/><D:quota-used-bytes/></D:prop></D:propfind>')
        r = client.request("PROPFIND", "/Library/2019/2019-03/", headers={"Depth": "1"}, content=body)
        assert r.status_code == 207
        named = propstats(responses(r.content)["/dav/Library/2019/2019-03/a&b <1>.jpg"])
        assert set(named["200 OK"]) == {D + "getcontentlength", D + "getlastmodified"}
        assert set(named["404 Not Found"]) == {"{urn:x}colour", D + "quota-used-bytes"}
        folder_named = propstats(responses(r.content)["/dav/Library/2019/2019-03/"])
        assert D + "getcontentlength" in folder_named["404 Not Found"]
        # propname: names only, empty elements.
        body = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>'
        r = client.request("PROPFIND", "/Library/2019/2019-03/a&b <1>.jpg", headers={"Depth": "0"}, content=body)
        names = propstats(responses(r.content)["/dav/Library/2019/2019-03/a&b <1>.jpg"])["200 OK"]
        assert D + "getetag" in names and all(not (e.text or "") and len(e) == 0 for e in names.values())
        # Depth 0 on a folder: only itself; the years and months are folders.
        r = client.request("PROPFIND", "/Library/", headers={"Depth": "1"})
        assert set(responses(r.content)) == {"/dav/Library/", "/dav/Library/2019/"}
        assert set(responses(client.request("PROPFIND", "/Favourites/", headers={"Depth": "0"}).content)) == {"/dav/Favourites/"}
        # Bad bodies and missing paths are WsgiDAV's answers, as before.
        assert client.request("PROPFIND", "/Library/", headers={"Depth": "1"}, content=b"<not xml").status_code == 400
        assert client.request("PROPFIND", "/Library/1999/", headers={"Depth": "1"}).status_code == 404
    assert photo["id"]
