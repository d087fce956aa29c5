"""The fault suite (`make test-faults`): see conftest.py."""
