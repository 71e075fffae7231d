//! MQTT access rules: administrators allow or deny publishing and subscribing on topic
//! filters, for one device, for devices with a label, or for everyone.
//!
//! Rules are kept in memory (the broker asks for every SUBSCRIBE and PUBLISH and must not
//! wait for storage) and in the store, which they are reloaded from at start. How they
//! combine with the built-in device API rules is the MQTT front end's business; this module
//! stores, validates and lists them.

use std::sync::{Arc, RwLock};

use strata_store::{AclRuleRow, TenantId};
use uuid::Uuid;

use crate::accounts::Principal;
use crate::{Platform, PlatformError, now_millis};

/// Which MQTT action a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclAction {
    /// PUBLISH.
    Publish,
    /// SUBSCRIBE.
    Subscribe,
    /// Both.
    All,
}

/// Whom a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclTarget {
    /// One device.
    Device(Uuid),
    /// Every device with this label.
    Label(String),
    /// Every client: devices and (when allowed) anonymous clients.
    Everyone,
}

/// One access rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRule {
    /// Identifier.
    pub id: Uuid,
    /// Tenant.
    pub tenant: TenantId,
    /// Action.
    pub action: AclAction,
    /// MQTT topic filter (`+` and `#` allowed).
    pub filter: String,
    /// Whom it applies to.
    pub target: AclTarget,
    /// Allow, or deny (a matching deny wins over any allow).
    pub allow: bool,
    /// Creation time (ms).
    pub created_at: i64,
}

/// What an administrator asks for.
#[derive(Debug, Clone)]
pub struct AclRuleSpec {
    /// `publish`, `subscribe` or `all`.
    pub action: String,
    /// Topic filter.
    pub filter: String,
    /// `device`, `label` or `everyone`.
    pub target_kind: String,
    /// Device id or label (empty for everyone).
    pub target: String,
    /// Allow or deny.
    pub allow: bool,
}

/// The rules of every tenant, shared with the MQTT front end.
pub(crate) type AclCache = RwLock<Arc<Vec<AclRule>>>;

fn from_row(row: AclRuleRow) -> Option<AclRule> {
    let action = match row.action.as_str() {
        "publish" => AclAction::Publish,
        "subscribe" => AclAction::Subscribe,
        "all" => AclAction::All,
        _ => return None,
    };
    let target = match row.target_kind.as_str() {
        "device" => AclTarget::Device(Uuid::parse_str(&row.target).ok()?),
        "label" => AclTarget::Label(row.target),
        "everyone" => AclTarget::Everyone,
        _ => return None,
    };
    Some(AclRule {
        id: row.id,
        tenant: row.tenant,
        action,
        filter: row.filter,
        target,
        allow: row.allow,
        created_at: row.created_at,
    })
}

impl Platform {
    /// Loads the access rules from the store into memory (at start).
    pub async fn load_acl_rules(&self) -> Result<(), PlatformError> {
        let rows = self.store().list_acl_rules().await?;
        let rules: Vec<AclRule> = rows.into_iter().filter_map(from_row).collect();
        if let Ok(mut cache) = self.inner.acl.write() {
            *cache = Arc::new(rules);
        }
        Ok(())
    }

    /// Every tenant's rules as they are now (cheap: a shared snapshot).
    pub fn acl_rules(&self) -> Arc<Vec<AclRule>> {
        self.inner
            .acl
            .read()
            .map(|r| Arc::clone(&r))
            .unwrap_or_default()
    }

    /// The caller's tenant's rules.
    pub fn list_acl_rules(&self, caller: &Principal) -> Vec<AclRule> {
        self.acl_rules()
            .iter()
            .filter(|r| r.tenant == caller.tenant)
            .cloned()
            .collect()
    }

    /// Adds a rule (admins only); it applies to SUBSCRIBE and PUBLISH packets from now on.
    pub async fn add_acl_rule(
        &self,
        caller: &Principal,
        spec: AclRuleSpec,
    ) -> Result<AclRule, PlatformError> {
        caller.require_admin()?;
        if !matches!(spec.action.as_str(), "publish" | "subscribe" | "all") {
            return Err(PlatformError::invalid(
                "`action` must be `publish`, `subscribe` or `all`",
            ));
        }
        strata_proto_mqtt::topic::validate_topic_filter(&spec.filter).map_err(|e| {
            PlatformError::invalid(format!("`filter` is not an MQTT topic filter: {e}"))
        })?;
        let target = match spec.target_kind.as_str() {
            "device" => {
                let id = Uuid::parse_str(spec.target.trim()).map_err(|_| {
                    PlatformError::invalid("`target` must be a device id for a device rule")
                })?;
                self.device(caller, id).await?;
                id.to_string()
            }
            "label" if !spec.target.trim().is_empty() => spec.target.trim().to_string(),
            "label" => return Err(PlatformError::invalid("`target` must name the label")),
            "everyone" => String::new(),
            _ => {
                return Err(PlatformError::invalid(
                    "`target_kind` must be `device`, `label` or `everyone`",
                ));
            }
        };
        let row = AclRuleRow {
            id: Uuid::new_v4(),
            tenant: caller.tenant,
            action: spec.action,
            filter: spec.filter,
            target_kind: spec.target_kind,
            target,
            allow: spec.allow,
            created_at: now_millis(),
        };
        self.store().add_acl_rule(row.clone()).await?;
        self.load_acl_rules().await?;
        from_row(row).ok_or_else(|| PlatformError::invalid("rule does not parse"))
    }

    /// Deletes a rule (admins only).
    pub async fn delete_acl_rule(&self, caller: &Principal, id: Uuid) -> Result<(), PlatformError> {
        caller.require_admin()?;
        if !self.store().delete_acl_rule(caller.tenant, id).await? {
            return Err(PlatformError::not_found(format!("no access rule {id}")));
        }
        self.load_acl_rules().await
    }
}
