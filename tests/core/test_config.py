from __future__ import annotations

from pathlib import Path

import pytest

from streaming.core.auth import Credentials
from streaming.core.config import (
    BUILTINS,
    ConfigError,
    find_deployment,
    load_deployments,
)

GOOD = """
[[deployments]]
name = "gpt-4o-eastus"
provider = "azure"
endpoint = "https://my-resource.openai.azure.com"
deployment = "gpt-4o"
api_version = "2024-10-21"
api_key_env = "LAB_TEST_AZURE_KEY"

[[deployments]]
name = "my-vllm"
provider = "compatible"
base_url = "http://127.0.0.1:8000/v1"
model = "meta-llama/Llama-3.1-8B-Instruct"

[[deployments]]
name = "sim-gpt4o-like"
provider = "simulated"
ttft_ms = 350
tokens_per_s = 60
faults = [{kind = "429", probability = 0.1}]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "deployments.toml"
    p.write_text(text)
    return p


def test_builtins_present() -> None:
    names = {d.name for d in BUILTINS}
    assert {"local", "sim-fast", "sim-slow"} <= names
    assert find_deployment(list(BUILTINS), "sim-fast").sim.ttft_ms == 200
    assert find_deployment(list(BUILTINS), "sim-slow").sim.tokens_per_s == 25


def test_file_adds_to_builtins(tmp_path: Path) -> None:
    deps = load_deployments(write(tmp_path, GOOD))
    az = find_deployment(deps, "gpt-4o-eastus")
    assert az.url("chat") == "https://my-resource.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    assert find_deployment(deps, "my-vllm").url("completions") == "http://127.0.0.1:8000/v1/completions"
    sim = find_deployment(deps, "sim-gpt4o-like")
    assert sim.sim.ttft_ms == 350 and sim.sim.faults[0].kind == "429"
    assert "sim-gpt4o-like (simulated)" == sim.label


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[deployments]]\nname = "x"\nprovider = "bogus"\n', "field 'provider'"),
        ('[[deployments]]\nname = "x"\nprovider = "azure"\ndeployment = "d"\n', "field 'endpoint' is missing"),
        ('[[deployments]]\nname = "x"\nprovider = "compatible"\nbase_url = "ftp://h"\nmodel = "m"\n', "field 'base_url'"),
        ('[[deployments]]\nname = "x"\nprovider = "simulated"\nttft_ms = "fast"\n', "field 'ttft_ms' must be a number"),
        ('[[deployments]]\nname = "x"\nprovider = "simulated"\ncolour = 1\n', "unknown field(s) ['colour']"),
        ('[[deployments]]\nname = "sim-fast"\nprovider = "simulated"\n', "already defined"),
        ('[[deployments]]\nprovider = "simulated"\n', "field 'name' is missing"),
        ("[[deployments]\n", "not valid TOML"),
        ('[[deployments]]\nname = "x"\nprovider = "simulated"\nfaults = [{kind = "meteor"}]\n', "field 'kind'"),
    ],
)
def test_bad_files_name_the_field(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_deployments(write(tmp_path, text))
    assert needle in str(e.value)
    assert "deployments.toml" in str(e.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_deployments(tmp_path / "nope.toml")


def test_missing_key_names_deployment_and_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_TEST_AZURE_KEY", raising=False)
    az = find_deployment(load_deployments(write(tmp_path, GOOD)), "gpt-4o-eastus")
    with pytest.raises(ConfigError) as e:
        Credentials().headers(az)
    assert "gpt-4o-eastus" in str(e.value) and "LAB_TEST_AZURE_KEY" in str(e.value)


def test_key_from_env_then_secrets_and_never_in_repr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    az = find_deployment(load_deployments(write(tmp_path, GOOD)), "gpt-4o-eastus")
    monkeypatch.delenv("LAB_TEST_AZURE_KEY", raising=False)
    creds = Credentials(secrets={"LAB_TEST_AZURE_KEY": "from-secrets-123"})
    assert creds.headers(az) == {"api-key": "from-secrets-123"}
    monkeypatch.setenv("LAB_TEST_AZURE_KEY", "from-env-456")
    assert creds.headers(az) == {"api-key": "from-env-456"}
    assert "from-secrets-123" not in repr(creds) and "from-env-456" not in repr(az) + str(az.public_dict())


def test_secrets_mapping_that_raises_is_treated_as_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoSecretsFile(dict):
        def get(self, key, default=None):  # Streamlit raises when no secrets.toml exists
            raise FileNotFoundError("No secrets found")

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert Credentials(secrets=NoSecretsFile()).lookup("OPENAI_API_KEY") is None
