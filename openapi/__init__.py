"""The contracts, installed as the package ``mock_server.contracts`` (see pyproject.toml).

This directory holds the one copy of each OpenAPI document; the wheel carries them from here.
"""
