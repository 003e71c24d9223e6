"""The app's own state: users, their roles and grants on collections, API keys and login
sessions, each user's conversations and feedback (in the state database), and the audit trail
(a JSON-lines file).

Imports only assistant.settings, assistant.errors and assistant.types from the package
(tests/test_layout.py): the server (assistant.app) sits on top of it.
"""

from assistant.accounts.accounts import Accounts
from assistant.accounts.audit import AuditEvent, AuditLog, parse_when, read_events
from assistant.accounts.history import Conversation, ConversationInfo, History, Rated, SavedTurn
from assistant.accounts.keys import KeyInfo
from assistant.accounts.principal import AccountError, Principal, Role, UserInfo

__all__ = ["AccountError", "Accounts", "AuditEvent", "AuditLog", "Conversation", "ConversationInfo", "History",
           "KeyInfo", "Principal", "Rated", "Role", "SavedTurn", "UserInfo", "parse_when", "read_events"]
