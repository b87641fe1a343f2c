"""Configuration: INI file values, flags over the file, clear errors for bad addresses."""

import pytest

from naas_sdn import cli, config


def test_file_then_flags(tmp_path):
    ini = tmp_path / "naas.ini"
    ini.write_text(
        "[DEFAULT]\napi_listen = 0.0.0.0:19696\nofp_listen = 127.0.0.1:16653\n"
        "db_url = sqlite:////tmp/from-file.sqlite\n"
        "ovsdb_connections = tcp:1.2.3.4:6640\n"
    )
    conf = config.load(str(ini), ofp_listen="127.0.0.1:7000", db_url=None)
    assert conf.api_listen == "0.0.0.0:19696"
    assert conf.ofp_listen == "127.0.0.1:7000"  # the flag wins
    assert conf.db_url == "sqlite:////tmp/from-file.sqlite"  # no flag: the file's value
    assert conf.ovsdb_connections == ["tcp:1.2.3.4:6640"]


def test_default_database_lives_in_the_state_dir(tmp_path):
    conf = config.load(None, state_dir=str(tmp_path / "state"))
    assert config.db_url(conf) == "sqlite:///" + str(tmp_path / "state" / "naas-sdn.sqlite")


def test_missing_file_and_bad_addresses_are_clear_errors(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        config.load(str(tmp_path / "nope.ini"))
    with pytest.raises(SystemExit, match="HOST:PORT"):
        config.split_host_port("localhost", "--api-listen")
    assert config.split_host_port("[::1]:9696", "--api-listen") == ("::1", 9696)


def test_serve_flags_parse():
    args = cli.build_parser().parse_args(
        [
            "serve",
            "--config",
            "f.ini",
            "--db-url",
            "sqlite://",
            "--api-listen",
            "h:1",
            "--ofp-listen",
            "h:2",
            "--ovsdb",
            "unix:/a",
            "--ovsdb",
            "tcp:b:6640",
        ]
    )
    assert (args.config, args.db_url, args.api_listen, args.ofp_listen, args.ovsdb) == (
        "f.ini",
        "sqlite://",
        "h:1",
        "h:2",
        ["unix:/a", "tcp:b:6640"],
    )


def test_default_service_plugins_all_load(tmp_path):
    from naas_sdn.model import db
    from naas_sdn.model.service import NetworkService
    from naas_sdn.northbound.app import make_app

    conf = config.load(None)
    assert conf.service_plugins == [
        "router",
        "qos",
        "protocol-block",
        "statistics",
        "l2-remote-gateway",
        "network-ip-availability",
        "trace",
    ]
    service = NetworkService(db.connect(f"sqlite:///{tmp_path / 'c.sqlite'}"))
    try:
        app = make_app(service, conf.service_plugins)
        assert {
            "routers",
            "policies",
            "protocol_blocks",
            "security_groups",
            "network_statistics",
            "ip_statistics",
            "network_ip_availabilities",
        } <= set(app.resources)
    finally:
        service.close()
