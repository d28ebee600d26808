"""OPC UA Basic256Sha256 Sign&Encrypt with the generated certificates; no unsecured endpoint."""

from __future__ import annotations

import pytest
from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.ua.uaerrors import UaError

from simulators.protocols.pki import CLIENT_URI
from tests.support.mosquitto import Broker
from tests.support.simulators import running_simulators


async def test_sign_and_encrypt_with_generated_certificates(broker: Broker) -> None:
    with running_simulators(
        broker, scenario="demo", protocols=("opcua",), opcua_security="sign-encrypt", speed=5
    ) as sim:
        pki = sim.pki_dir
        assert {p.name for p in pki.iterdir()} == {
            "server-cert.der", "server-key.pem", "client-cert.der", "client-key.pem"
        }  # fmt: skip
        assert (pki / "server-key.pem").stat().st_mode & 0o077 == 0
        client = Client(sim.opcua_url, timeout=10)
        client.application_uri = CLIENT_URI
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            certificate=str(pki / "client-cert.der"),
            private_key=str(pki / "client-key.pem"),
            server_certificate=str(pki / "server-cert.der"),
            mode=ua.MessageSecurityMode.SignAndEncrypt,
        )
        async with client:
            ns = await client.get_namespace_index("urn:knu-mes:simulator")
            value = await client.get_node(f"ns={ns};s=CNC-101.spindle_speed").read_value()
            assert 0 <= value <= 6000
            endpoints = await client.get_endpoints()
        assert {e.SecurityMode for e in endpoints} == {ua.MessageSecurityMode.SignAndEncrypt}
        assert {e.SecurityPolicyUri for e in endpoints} == {SecurityPolicyBasic256Sha256.URI}

        with pytest.raises(UaError, match="No matching endpoints"):  # no unsecured endpoint
            async with Client(sim.opcua_url, timeout=5):
                pass
