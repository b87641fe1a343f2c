"""The WSGI app in-process: plugin registry, 500 catch-all and validators."""

from __future__ import annotations

import pytest

from naas_sdn import features
from naas_sdn.model import errors
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound import plugins
from naas_sdn.northbound.app import make_app
from tests.unit.model_support import api_call as call


def test_unknown_plugin_name_is_refused(service):
    with pytest.raises(plugins.UnknownPluginError, match="'nope'"):
        make_app(service, ["nope"])


def test_registered_plugin_adds_extensions_and_leaves_501_for_others(service, monkeypatch):
    monkeypatch.setitem(features.IN_TREE, "demo", f"{__name__}:demo_plugin")
    app = make_app(service, ["demo"])
    token = service.tokens.create("p")
    aliases = {e["alias"] for e in call(app, "GET", "/v2.0/extensions", token).json["extensions"]}
    assert "demo-ext" in aliases and "binding" in aliases
    assert call(app, "GET", "/v2.0/routers", token).status_code == 501


def demo_plugin(service):
    return plugins.Plugin(
        "demo", extensions=(plugins.Extension("demo-ext", "Demo", "A demo extension."),)
    )


def test_unexpected_error_becomes_neutron_500(service):
    app = make_app(service, [])
    token = service.tokens.create("p")

    def broken(ctx):
        raise KeyError("bug")

    object.__setattr__(app.resources["networks"], "list", broken)
    resp = call(app, "GET", "/v2.0/networks", token)
    assert resp.status_code == 500
    assert resp.json["NeutronError"]["type"] == "HTTPInternalServerError"


@pytest.mark.parametrize(
    "value,expected",
    [
        ("00:11:22:33:44:55", "00:11:22:33:44:55"),
        ("00-11-22-33-44-55", "00:11:22:33:44:55"),
        ("0011.2233.4455", "00:11:22:33:44:55"),
        ("FA:16:3E:AA:BB:CC", "fa:16:3e:aa:bb:cc"),
    ],
)
def test_mac_normalization(value, expected):
    assert a.mac_address("mac_address", value) == expected


@pytest.mark.parametrize("value", ["01:00:5e:00:00:01", "00:00:00:00:00:00", "nope", 5, None])
def test_mac_rejected(value):
    with pytest.raises(Exception) as exc:
        a.mac_address("mac_address", value)
    assert exc.value.status == 400


def test_uuid_strict():
    assert a.is_uuid("3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35")
    assert not a.is_uuid("3f0e0c9e2a434a5e8a615b1b0b3e6d35")


@pytest.mark.parametrize(
    "value,expected",
    [
        (True, True),
        (False, False),
        ("true", True),
        ("False", False),
        (" YES ", True),
        ("off", False),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
    ],
)
def test_boolean_converts_as_neutron_lib(value, expected):
    assert a.boolean("shared", value) is expected


@pytest.mark.parametrize("value", ["maybe", "", 2, -1, 1.0, None, [], {}])
def test_boolean_refuses_the_rest(value):
    with pytest.raises(errors.InvalidAttribute, match="cannot be converted to boolean"):
        a.boolean("shared", value)
