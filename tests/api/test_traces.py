"""``POST /v2.0/traces`` over HTTP, where no switch is needed: its validation, its scoping to
what the caller sees, a port with no VM plugged, the plugin left out (501), and the
``naas-sdn trace`` command's report of a refusal. What a trace
answers about real traffic is tested in tests/dataplane/test_trace.py."""

from naas_sdn import cli


def _port(client):
    net = client.post("/v2.0/networks", {"network": {}}).json["network"]
    subnet = {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/24"}
    assert client.post("/v2.0/subnets", {"subnet": subnet}).status == 201
    return client.post("/v2.0/ports", {"port": {"network_id": net["id"]}}).json["port"]


def test_a_trace_is_refused_clearly(alice):
    port = _port(alice)
    other = _port(alice)
    cases = [
        ({}, 400),
        ({"source_port_id": "nope"}, 400),
        ({"source_port_id": port["id"]}, 400),  # no destination
        ({"source_port_id": port["id"], "destination_ip": "10.0.0.9", "protocol": "gre"}, 400),
        ({"source_port_id": port["id"], "destination_ip": "10.0.0.9", "protocol": 300}, 400),
        ({"source_port_id": port["id"], "destination_ip": "x"}, 400),
        ({"source_port_id": port["id"], "destination_ip": "10.0.0.9", "ct_state": "old"}, 400),
        ({"source_port_id": port["id"], "destination_port_id": other["id"], "bogus": 1}, 400),
        ({"source_port_id": port["id"], "destination_port_id": other["id"], "mode": "x"}, 400),
        ({"source_port_id": port["id"], "destination_port_id": other["id"], "source_ip": "x"}, 400),
        ({"source_port_id": port["id"], "destination_ip": "10.0.0.9", "source_ip": "::1"}, 400),
        # the real switches are read for admins alone (policy create_trace:mode)
        ({"source_port_id": port["id"], "destination_port_id": other["id"], "mode": "switch"}, 403),
    ]
    for body, status in cases:
        resp = alice.post("/v2.0/traces", {"trace": body})
        assert resp.status == status, (body, resp.raw)
        assert resp.error_type, resp.raw
    # a port with no VM plugged: nowhere its packets enter
    resp = alice.post(
        "/v2.0/traces",
        {"trace": {"source_port_id": port["id"], "destination_port_id": other["id"]}},
    )
    assert resp.status == 409 and "no VM plugged" in resp.json["NeutronError"]["message"]


def test_a_tenant_traces_only_ports_it_sees(alice, bob):
    mine, theirs = _port(alice), _port(bob)
    for source, destination in ((theirs, mine), (mine, theirs)):
        resp = alice.post(
            "/v2.0/traces",
            {"trace": {"source_port_id": source["id"], "destination_port_id": destination["id"]}},
        )
        assert resp.status == 404 and resp.error_type == "PortNotFound", resp.raw
    assert alice.get("/v2.0/traces").json == {"traces": []}
    assert alice.get("/v2.0/extensions/trace").status == 200


def test_without_the_plugin_traces_are_not_implemented(bare_alice):
    resp = bare_alice.post("/v2.0/traces", {"trace": {}})
    assert resp.status == 501 and "'trace' is not loaded" in resp.json["NeutronError"]["message"]
    assert bare_alice.get("/v2.0/fabric-switches").status == 501


def test_the_command_says_what_the_api_refused(alice, capsys, monkeypatch):
    monkeypatch.delenv("OS_TOKEN", raising=False)
    port = _port(alice)
    assert cli.main(["trace", port["id"], "--to-ip", "10.0.0.9", "--url", alice.url]) == 2
    assert "a token is needed" in capsys.readouterr().err
    login = ["--url", alice.url, "--token", alice.token]
    assert cli.main(["trace", port["id"], "--to-ip", "10.0.0.9", *login]) == 2
    said = capsys.readouterr().err
    assert "409: " in said and "no VM plugged" in said
    assert cli.main(["trace", port["id"], "--to-ip", "10.0.0.9", "--protocol", "gre", *login]) == 2
    assert "400: " in capsys.readouterr().err


def test_the_fabric_is_read_by_admins_alone(alice, admin):
    """With no switch connected (no controller in the API's process here: the lists are
    empty); what they hold is tested on real switches in tests/dataplane/test_trace.py."""
    for path in ("/v2.0/fabric-switches", "/v2.0/fabric-links"):
        assert admin.get(path).status == 200
        assert alice.get(path).json == {path.rsplit("/", 1)[1].replace("-", "_"): []}
        assert admin.post(path, {}).status == 405
    assert admin.get("/v2.0/fabric-switches/0000000000000001").status == 404
    assert alice.get("/v2.0/fabric-switches/0000000000000001").status == 404
    assert admin.get("/v2.0/fabric-links/nope").status == 404
