"""The topology page's files, served at /ui/ from the package: no token needed for them (the
page asks for one and calls the API with it), everything from here (a Content-Security-Policy
that admits no other origin), nothing else reachable through the path. What the page draws is
tested in a real browser in tests/dataplane/test_topology_page.py."""

import urllib.error
import urllib.request


def fetch(url, method="GET"):
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_page_and_its_library_are_served_from_here(alice):
    status, headers, body = fetch(alice.url + "/ui/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'src="vendor/cytoscape.min.js"' in body and b"http" not in body.split(b"<body>")[0]
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    status, headers, body = fetch(alice.url + "/ui/vendor/cytoscape.min.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert len(body) > 100_000
    status, headers, body = fetch(alice.url + "/ui/app.js")
    assert status == 200 and b"/v2.0/" in body
    status, headers, _ = fetch(alice.url + "/ui")
    assert status == 200  # redirected to /ui/ (urllib follows it)


def test_nothing_else_is_reachable_through_the_page_path(alice):
    for path in ("/ui/nope.js", "/ui/../cli.py", "/ui/%2e%2e/cli.py", "/ui/.hidden", "/ui/vendor"):
        status, _, body = fetch(alice.url + path)
        assert status in (400, 404), path
        assert b"NeutronError" in body, path
    assert fetch(alice.url + "/ui/", method="POST")[0] == 405
    assert fetch(alice.url + "/ui/app.js", method="HEAD")[0] == 200
