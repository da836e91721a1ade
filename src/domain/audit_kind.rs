//! What the audit trail records: one variant per kind of event.

/// Stored as its `as_str()` name; operators and tests filter on these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// A password login.
    Login,
    /// A login by an existing single-sign-on session.
    SsoLogin,
    /// The login that directly follows a sign-up.
    SignupLogin,
    Signup,
    LoginFailed,
    AccountLocked,
    RuleDenied,
    RuleFailed,
    CodeReplay,
    RefreshReplay,
    AccessTokenRevoked,
    RefreshTokenRevoked,
    Logout,
    UserCreated,
    UserDeleted,
    RolesChanged,
    /// A verification link was used.
    EmailVerified,
    /// A reset mail went to an existing account.
    ResetRequested,
    /// A reset link set a new password (sessions and refresh tokens ended).
    PasswordReset,
    /// A mail could not be delivered and was given up.
    MailFailed,
    UserBlocked,
    UserUnblocked,
    /// Every session and refresh token of a user ended by an operator.
    SessionsEnded,
    InvitationCreated,
    InvitationAccepted,
    InvitationRevoked,
    /// A blocked user's correct password (the login was refused).
    BlockedLogin,
    /// An upstream sign-in refused (its error, a bad state, an invalid ID token …).
    UpstreamFailed,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::SsoLogin => "sso_login",
            Self::SignupLogin => "signup_login",
            Self::Signup => "signup",
            Self::LoginFailed => "login_failed",
            Self::AccountLocked => "account_locked",
            Self::RuleDenied => "rule_denied",
            Self::RuleFailed => "rule_failed",
            Self::CodeReplay => "code_replay",
            Self::RefreshReplay => "refresh_replay",
            Self::AccessTokenRevoked => "access_token_revoked",
            Self::RefreshTokenRevoked => "refresh_token_revoked",
            Self::Logout => "logout",
            Self::UserCreated => "user_created",
            Self::UserDeleted => "user_deleted",
            Self::RolesChanged => "roles_changed",
            Self::EmailVerified => "email_verified",
            Self::ResetRequested => "reset_requested",
            Self::PasswordReset => "password_reset",
            Self::MailFailed => "mail_failed",
            Self::UserBlocked => "user_blocked",
            Self::UserUnblocked => "user_unblocked",
            Self::SessionsEnded => "sessions_ended",
            Self::InvitationCreated => "invitation_created",
            Self::InvitationAccepted => "invitation_accepted",
            Self::InvitationRevoked => "invitation_revoked",
            Self::BlockedLogin => "blocked_login",
            Self::UpstreamFailed => "upstream_failed",
        }
    }
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
