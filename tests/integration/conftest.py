# SPDX-License-Identifier: BSD-3-Clause
"""pytest glue for the integration tests: one topology per test module (each module is one
meson test), torn down at module end whatever happened."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def pytest_configure(config):
    if not harness.have_root():
        # namespaces need root: without it the suite fails loudly (never a skip)
        pytest.exit("integration tests need root (network namespaces)", returncode=1)


def default_policy(**kw):
    """The policy most tests run: names allowed by rule, one explicit deny, a default deny,
    and a trusted server address that bypasses inspection."""
    rules = [
        {"id": "llm", "action": "allow", "sni": ["api.openai.com", "api.anthropic.com"]},
        {"id": "hooks", "action": "allow", "sni": ["hooks.slack.com"]},
        {"id": "docs", "action": "allow", "host": ["docs.example.com"]},
        {"id": "no-evil", "action": "deny", "sni": ["evil.example.net"]},
        {"id": "no-blocked", "action": "deny", "host": ["blocked.example.com"]},
    ]
    args = {"mode": "enforce", "default": "deny", "rules": rules,
            "trusted": [harness.TRUSTED4 + "/32", harness.TRUSTED6 + "/128"]}
    args.update(kw)
    return harness.render_config(**args)


@pytest.fixture(scope="module")
def env(request):
    cfg = getattr(request.module, "POLICY", None)
    cfg = cfg() if callable(cfg) else (cfg or default_policy())
    failed = request.session.testsfailed
    with harness.Env(config_text=cfg) as e:
        yield e
        if request.session.testsfailed > failed:
            # the tails of chokepointd, chokepoint-dp, nginx, ... for the failure report
            print("\n" + e.logs(), flush=True)


@pytest.fixture(scope="module")
def standin_env():
    with harness.Env(standin=True) as e:
        yield e
