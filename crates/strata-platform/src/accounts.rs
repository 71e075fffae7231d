//! Management accounts: the first-start admin, sign-in, API keys, request authentication.

use std::sync::{Arc, LazyLock};
use strata_store::{
    ApiToken, DeviceFilter, Millis, NewApiToken, NewUser, Role, Tenant, TenantId, TokenKind, User,
};

use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::secrets::{hash_password, random_token, sha256_hex, verify_password};
use crate::{ErrorCode, Platform, PlatformError, now_millis};

/// Prefix of API keys, so a leaked key is recognisable (and greppable by secret scanners).
pub const API_KEY_PREFIX: &str = "stk_";
/// Prefix of session tokens.
pub const SESSION_PREFIX: &str = "sts_";

/// Who is calling the management API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Tenant every query is scoped to.
    pub tenant: TenantId,
    /// The user.
    pub user_id: Uuid,
    /// The user's sign-in name.
    pub username: String,
    /// The user's role.
    pub role: Role,
    /// The token used.
    pub token_id: Uuid,
}

impl Principal {
    /// Fails unless the caller may change devices and data.
    pub fn require_write(&self) -> Result<(), PlatformError> {
        match self.role {
            Role::Admin | Role::Operator => Ok(()),
            Role::Viewer => Err(PlatformError::forbidden(
                "this account has the viewer role and cannot change anything",
            )),
        }
    }

    /// Fails unless the caller is an administrator.
    pub fn require_admin(&self) -> Result<(), PlatformError> {
        match self.role {
            Role::Admin => Ok(()),
            _ => Err(PlatformError::forbidden("this needs the admin role")),
        }
    }
}

/// What the first start did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// Users existed already.
    AlreadyDone,
    /// The admin was created with the password given in the environment.
    Created {
        /// Sign-in name.
        username: String,
    },
    /// The admin was created with a generated password, to be shown once.
    CreatedWithGeneratedPassword {
        /// Sign-in name.
        username: String,
        /// The password; it is not stored anywhere in clear.
        password: String,
    },
}

/// A secret shown once, with its record.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The secret to give to the client.
    pub secret: String,
    /// The stored record.
    pub token: ApiToken,
}

impl Platform {
    /// Creates the admin account if there are no users yet.
    pub async fn bootstrap_admin(
        &self,
        username: &str,
        password: Option<&str>,
    ) -> Result<Bootstrap, PlatformError> {
        if self.store().count_users().await? > 0 {
            return Ok(Bootstrap::AlreadyDone);
        }
        if let Some(p) = password {
            validate_password(p)?;
        }
        let generated = password.is_none().then(|| random_token(20));
        let chosen = password
            .map(str::to_string)
            .or(generated.clone())
            .unwrap_or_default();
        self.create_user(username, &chosen, Role::Admin, self.default_tenant())
            .await?;
        Ok(match generated {
            Some(password) => Bootstrap::CreatedWithGeneratedPassword {
                username: username.into(),
                password,
            },
            None => Bootstrap::Created {
                username: username.into(),
            },
        })
    }

    /// Creates a user in a tenant.
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
        tenant: TenantId,
    ) -> Result<User, PlatformError> {
        validate_username(username)?;
        validate_password(password)?;
        let hash = hash_blocking(password).await?;
        self.store()
            .create_user(NewUser {
                tenant,
                username: username.to_string(),
                password_hash: hash,
                role,
            })
            .await
            .map_err(PlatformError::from)
    }

    /// Lists the caller's tenant's users (admins only).
    pub async fn list_users(&self, caller: &Principal) -> Result<Vec<User>, PlatformError> {
        caller.require_admin()?;
        Ok(self.store().list_users(caller.tenant).await?)
    }

    /// Adds a user to the caller's tenant (admins only).
    pub async fn add_user(
        &self,
        caller: &Principal,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<User, PlatformError> {
        caller.require_admin()?;
        self.create_user(username, password, role, caller.tenant)
            .await
    }

    /// Deletes a user of the caller's tenant with its sessions and API keys (admins only;
    /// not the caller itself, so a tenant never loses its last admin by accident).
    pub async fn delete_user(&self, caller: &Principal, id: Uuid) -> Result<(), PlatformError> {
        caller.require_admin()?;
        if id == caller.user_id {
            return Err(PlatformError::invalid(
                "you cannot delete your own account; ask another admin",
            ));
        }
        if !self.store().delete_user(caller.tenant, id).await? {
            return Err(PlatformError::not_found(format!("no user {id}")));
        }
        Ok(())
    }

    /// Creates a tenant with its first admin. Only admins of the installation's default
    /// tenant manage tenants; everyone else sees only their own.
    pub async fn create_tenant(
        &self,
        caller: &Principal,
        name: &str,
        admin_username: &str,
        admin_password: &str,
    ) -> Result<(Tenant, User), PlatformError> {
        self.require_installation_admin(caller)?;
        if name.trim().is_empty() || name.len() > 64 {
            return Err(PlatformError::invalid(
                "tenant name must be 1 to 64 characters",
            ));
        }
        let name = name.trim();
        // Tenant and admin are created in one store transaction: a taken or invalid admin
        // name leaves no tenant without users behind.
        validate_username(admin_username)?;
        validate_password(admin_password)?;
        let hash = hash_blocking(admin_password).await?;
        let (tenant, admin) = self
            .store()
            .create_tenant(
                name,
                NewUser {
                    tenant: self.default_tenant(),
                    username: admin_username.to_string(),
                    password_hash: hash,
                    role: Role::Admin,
                },
            )
            .await?;
        Ok((tenant, admin))
    }

    /// Lists all tenants (installation admins only).
    pub async fn list_tenants(&self, caller: &Principal) -> Result<Vec<Tenant>, PlatformError> {
        self.require_installation_admin(caller)?;
        Ok(self.store().list_tenants().await?)
    }

    /// Deletes a tenant and everything in it: its users (signed out at once), devices with
    /// their telemetry, shadows, calls and alarms, rules, access rules and dashboards. Only
    /// admins of the default tenant, which itself stays. Not one transaction (a tenant's
    /// telemetry can be large): an interrupted deletion leaves a tenant nobody can sign in
    /// to, and deleting it again finishes the job.
    pub async fn delete_tenant(
        &self,
        caller: &Principal,
        id: TenantId,
    ) -> Result<(), PlatformError> {
        self.require_installation_admin(caller)?;
        if id == self.default_tenant() {
            return Err(PlatformError::invalid(
                "the default tenant holds the installation's admins and cannot be deleted",
            ));
        }
        // In a task of its own: a request that times out or goes away must not stop it
        // between deleting a device and cutting the device's connections.
        let platform = self.clone();
        let caller = caller.clone();
        tokio::spawn(async move { platform.purge_tenant(&caller, id).await })
            .await
            .map_err(|e| {
                PlatformError::new(ErrorCode::Internal, format!("tenant deletion failed: {e}"))
            })?
    }

    async fn purge_tenant(&self, caller: &Principal, id: TenantId) -> Result<(), PlatformError> {
        // People first: with no users and tokens left, nobody adds to the tenant meanwhile.
        if !self.store().remove_tenant_accounts(id).await? {
            return Err(PlatformError::not_found(format!("no tenant {}", id.0)));
        }
        let inside = Principal {
            tenant: id,
            role: Role::Admin,
            ..caller.clone()
        };
        loop {
            let page = self
                .list_devices(&inside, &DeviceFilter::default(), 0, 100)
                .await?;
            if page.items.is_empty() {
                break;
            }
            for device in page.items {
                match self.delete_device(&inside, device.id).await {
                    Err(e) if e.code != ErrorCode::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        for rule in self.rules(&inside) {
            match self.delete_rule(&inside, rule.id).await {
                Err(e) if e.code != ErrorCode::NotFound => return Err(e),
                _ => {}
            }
        }
        self.store().delete_tenant(id).await?;
        // The access rules live in memory too.
        self.load_acl_rules().await?;
        tracing::info!(tenant = id.0, by = %caller.username, "tenant deleted");
        Ok(())
    }

    fn require_installation_admin(&self, caller: &Principal) -> Result<(), PlatformError> {
        caller.require_admin()?;
        if caller.tenant != self.default_tenant() {
            return Err(PlatformError::forbidden(
                "only admins of the default tenant manage tenants",
            ));
        }
        Ok(())
    }

    /// Signs in; returns a session token valid for `auth.session_ttl`.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<IssuedToken, PlatformError> {
        let refused = || PlatformError::unauthorized("wrong username or password");
        // No stored password is longer (`validate_password`): refused without hashing it.
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(refused());
        }
        let user = self.store().find_user(username).await?;
        // Verify against a dummy hash for unknown users too, so timing does not reveal names.
        let phc = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| DUMMY_HASH.to_string());
        let password = password.to_string();
        let ok = password_work(move || verify_password(&password, &phc)).await?;
        let user = match user {
            Some(user) if ok => user,
            _ => return Err(refused()),
        };
        let ttl = self.config().auth.session_ttl.as_millis() as Millis;
        self.issue_token(
            user.tenant,
            user.id,
            TokenKind::Session,
            "sign-in",
            Some(now_millis() + ttl),
        )
        .await
    }

    /// Deletes ended (expired or revoked) sign-in sessions every hour, forever: every
    /// sign-in adds one.
    pub async fn run_session_pruning(self) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.store().prune_sessions(now_millis()).await {
                tracing::warn!(error = %e, "cannot prune ended sessions; will retry");
            }
        }
    }

    /// Creates an API key for the caller.
    pub async fn create_api_key(
        &self,
        caller: &Principal,
        name: &str,
        expires_at: Option<Millis>,
    ) -> Result<IssuedToken, PlatformError> {
        caller.require_admin()?;
        if name.trim().is_empty() || name.len() > 128 {
            return Err(PlatformError::invalid("name must be 1 to 128 characters"));
        }
        if expires_at.is_some_and(|t| t <= now_millis()) {
            return Err(PlatformError::invalid("expires_at must be in the future"));
        }
        self.issue_token(
            caller.tenant,
            caller.user_id,
            TokenKind::ApiKey,
            name,
            expires_at,
        )
        .await
    }

    async fn issue_token(
        &self,
        tenant: TenantId,
        user_id: Uuid,
        kind: TokenKind,
        name: &str,
        expires_at: Option<Millis>,
    ) -> Result<IssuedToken, PlatformError> {
        let prefix = match kind {
            TokenKind::ApiKey => API_KEY_PREFIX,
            TokenKind::Session => SESSION_PREFIX,
        };
        let secret = format!("{prefix}{}", random_token(32));
        let token = self
            .store()
            .create_token(NewApiToken {
                tenant,
                user_id,
                kind,
                name: name.to_string(),
                prefix: secret[..prefix.len() + 4].to_string(),
                secret_hash: sha256_hex(&secret),
                expires_at,
            })
            .await?;
        Ok(IssuedToken { secret, token })
    }

    /// Lists the tenant's API keys (never their secrets).
    pub async fn list_api_keys(&self, caller: &Principal) -> Result<Vec<ApiToken>, PlatformError> {
        caller.require_admin()?;
        Ok(self
            .store()
            .list_tokens(caller.tenant, TokenKind::ApiKey)
            .await?)
    }

    /// Revokes an API key of the tenant.
    pub async fn revoke_api_key(&self, caller: &Principal, id: Uuid) -> Result<(), PlatformError> {
        caller.require_admin()?;
        let tokens = self
            .store()
            .list_tokens(caller.tenant, TokenKind::ApiKey)
            .await?;
        if !tokens.iter().any(|t| t.id == id && t.revoked_at.is_none()) {
            return Err(PlatformError::not_found(format!("no live API key {id}")));
        }
        self.store()
            .revoke_token(caller.tenant, id, now_millis())
            .await?;
        Ok(())
    }

    /// Ends the session (or revokes the API key) the caller used.
    pub async fn logout(&self, caller: &Principal) -> Result<(), PlatformError> {
        self.store()
            .revoke_token(caller.tenant, caller.token_id, now_millis())
            .await?;
        Ok(())
    }

    /// The anti-CSRF token of a browser session: derived from the session secret (which
    /// sits in an HttpOnly cookie), so a page of another site can neither read nor compute
    /// it, and nothing extra is stored.
    pub fn csrf_token(session_secret: &str) -> String {
        let mut digest = sha256_hex(&format!("strata-csrf\0{session_secret}"));
        digest.truncate(40);
        digest
    }

    /// Authenticates a bearer token for the management API.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, PlatformError> {
        if !(bearer.starts_with(API_KEY_PREFIX) || bearer.starts_with(SESSION_PREFIX)) {
            return Err(PlatformError::unauthorized(
                "not a Strata API token (they start with stk_ or sts_); sign in with \
                 POST /api/auth/login or create an API key",
            ));
        }
        let found = self
            .store()
            .find_token(&sha256_hex(bearer), now_millis())
            .await?;
        let (token, user) = found.ok_or_else(|| {
            PlatformError::unauthorized("token unknown, revoked or expired; sign in again")
        })?;
        Ok(Principal {
            tenant: token.tenant,
            user_id: user.id,
            username: user.username,
            role: user.role,
            token_id: token.id,
        })
    }
}

fn validate_username(username: &str) -> Result<(), PlatformError> {
    if username.trim().is_empty() || username.len() > 64 {
        return Err(PlatformError::invalid(
            "username must be 1 to 64 characters",
        ));
    }
    Ok(())
}

/// Argon2 is slow by design: hash off the async threads.
async fn hash_blocking(password: &str) -> Result<String, PlatformError> {
    let password = password.to_string();
    password_work(move || hash_password(&password))
        .await?
        .map_err(|e| PlatformError::new(ErrorCode::Internal, e.to_string()))
}

/// Each argon2 run takes 19 MiB and tens of milliseconds of a core. At most this many run at
/// once: a flood of sign-ins waits for a permit (cheaply; the request timeout drops a waiter)
/// instead of filling the blocking pool that database reads share, and memory stays bounded.
static PASSWORD_WORK: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Arc::new(Semaphore::new(cores.clamp(1, 4)))
});

/// Runs password hashing or checking on the blocking pool, under `PASSWORD_WORK`. The permit
/// goes with the work, so a caller that gives up does not free a slot still in use.
async fn password_work<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PlatformError> {
    let internal =
        |e: &dyn std::fmt::Display| PlatformError::new(ErrorCode::Internal, e.to_string());
    let permit = Arc::clone(&PASSWORD_WORK)
        .acquire_owned()
        .await
        .map_err(|e| internal(&e))?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|e| internal(&e))
}

/// Longest password accepted, in bytes (argon2 hashes all of it).
const MAX_PASSWORD_BYTES: usize = 1024;

fn validate_password(password: &str) -> Result<(), PlatformError> {
    if password.chars().count() < 8 {
        return Err(PlatformError::invalid(
            "password must have at least 8 characters",
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PlatformError::invalid("password is too long"));
    }
    Ok(())
}

/// Argon2 hash of a random string, used to spend the same time on unknown usernames.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Vq4pq4E3wq4dPuVYTjN6ICF5TBcy2DPakZVv/1S7dRI";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::platform;

    #[tokio::test(flavor = "multi_thread")]
    async fn admin_bootstrap_login_and_keys() {
        let (_dir, p) = platform().await;
        let Bootstrap::CreatedWithGeneratedPassword { password, .. } =
            p.bootstrap_admin("admin", None).await.unwrap()
        else {
            panic!("expected a generated password")
        };
        assert_eq!(
            p.bootstrap_admin("admin", None).await.unwrap(),
            Bootstrap::AlreadyDone
        );
        assert_eq!(
            p.login("admin", "wrong-password").await.unwrap_err().code,
            ErrorCode::Unauthorized
        );
        assert_eq!(
            p.login("nobody", "wrong-password").await.unwrap_err().code,
            ErrorCode::Unauthorized
        );
        let session = p.login("admin", &password).await.unwrap();
        assert!(session.secret.starts_with(SESSION_PREFIX));
        let me = p.authenticate(&session.secret).await.unwrap();
        assert_eq!(me.role, Role::Admin);

        let key = p.create_api_key(&me, "ci", None).await.unwrap();
        let via_key = p.authenticate(&key.secret).await.unwrap();
        assert_eq!(via_key.user_id, me.user_id);
        assert_eq!(p.list_api_keys(&me).await.unwrap().len(), 1);
        p.revoke_api_key(&me, key.token.id).await.unwrap();
        assert!(p.authenticate(&key.secret).await.is_err());

        p.logout(&me).await.unwrap();
        assert!(p.authenticate(&session.secret).await.is_err());
        assert!(p.authenticate("garbage").await.is_err());
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(argon2::password_hash::PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
