"""The app's own state: users, their roles and grants on collections, API keys and login
sessions (in the state database), and the audit trail (a JSON-lines file).

Imports only assistant.settings, assistant.errors and assistant.types from the package
(tests/test_layout.py): the server (assistant.app) sits on top of it.
"""

from assistant.accounts.accounts import Accounts
from assistant.accounts.audit import AuditEvent, AuditLog, parse_when, read_events
from assistant.accounts.principal import AccountError, Principal, Role, UserInfo

__all__ = ["AccountError", "Accounts", "AuditEvent", "AuditLog", "Principal", "Role", "UserInfo", "parse_when",
           "read_events"]
