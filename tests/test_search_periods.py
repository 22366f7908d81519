"""Search text that names a year, a month or a day ("2008", "2008-05", "2008-05-10") finds what
was taken then (issue 11: "2008" found nothing), alone or with words, over real HTTP."""

from __future__ import annotations

from http_support import Server, User, assert_problem, jpeg_with_exif


def ids(user: User, **params: str) -> set[str]:
    with user.client() as c:
        r = c.get("/api/search", params=params)
        assert r.status_code == 200, r.text
        return {p["id"] for p in r.json()["photos"]}


def test_a_year_month_or_day_in_the_text_finds_what_was_taken_then(server: Server, alice: User) -> None:
    taken = {"may8": "2008:05:10 10:00:00", "dec8": "2008:12:31 23:59:59", "jan9": "2009:01:01 00:00:00",
             "may9": "2009:05:10 12:00:00"}
    got = {}
    for n, (name, when) in enumerate(taken.items()):
        r = alice.upload(jpeg_with_exif(700 + n, "Canon", "Canon EOS 5D", when), f"{name}.jpg")
        assert r.status_code == 201, r.text
        got[name] = r.json()["id"]
    other = alice.upload(jpeg_with_exif(710, "Nikon", "D70", "2015:06:01 08:00:00"), "IMG_2008.jpg").json()["id"]
    with alice.client() as c:
        assert c.patch(f"/api/photos/{got['may9']}", json={"description": "beach day"}).status_code == 200
        assert c.patch(f"/api/photos/{got['may8']}", json={"description": "beach again"}).status_code == 200
    assert ids(alice, q="2008") == {got["may8"], got["dec8"]}
    assert ids(alice, q="2008-12") == {got["dec8"]}
    assert ids(alice, q="2009-01-01") == {got["jan9"]}
    assert ids(alice, q="2008 2009") == set(got.values())          # either year
    assert ids(alice, q="beach 2009") == {got["may9"]}              # words and a year together
    assert ids(alice, q="2008", to="2008-06-30") == {got["may8"]}   # and the date filters still apply
    assert ids(alice, q="IMG_2008") == {other}                      # a year inside a word is text
    assert ids(alice, q="2008-02-30") == set()                      # not a day: an ordinary word, no match
    # Paging through a year keeps to it.
    with alice.client() as c:
        first = c.get("/api/search", params={"q": "2008", "limit": 1}).json()
        assert len(first["photos"]) == 1 and first["cursor"]
        rest = c.get("/api/search", params={"q": "2008", "limit": 5, "cursor": first["cursor"]}).json()
        assert {p["id"] for p in first["photos"] + rest["photos"]} == {got["may8"], got["dec8"]}
        assert_problem(c.get("/api/search", params={"q": "2008", "from": "not a date"}), 400)
