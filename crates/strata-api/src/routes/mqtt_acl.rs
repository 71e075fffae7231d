//! MQTT access rules (admins): allow or deny publish/subscribe on topic filters.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use strata_platform::acl::{AclAction, AclRule, AclRuleSpec, AclTarget};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, Auth, JsonBody};

/// A rule to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AclRuleCreate {
    /// `publish`, `subscribe` or `all`.
    #[schema(example = "publish")]
    pub action: String,
    /// MQTT topic filter; `+` and `#` allowed.
    #[schema(example = "plant/floor1/#")]
    pub filter: String,
    /// `device`, `label` or `everyone`.
    #[schema(example = "label")]
    pub target_kind: String,
    /// The device id or the label; leave out for everyone.
    #[serde(default)]
    #[schema(example = "floor1")]
    pub target: String,
    /// Allow (true) or deny (false); a matching deny wins.
    pub allow: bool,
}

/// A stored rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct AclRuleOut {
    /// Identifier.
    pub id: Uuid,
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
    /// Creation time, ms.
    pub created_at: i64,
}

impl From<AclRule> for AclRuleOut {
    fn from(r: AclRule) -> Self {
        let (target_kind, target) = match r.target {
            AclTarget::Device(id) => ("device", id.to_string()),
            AclTarget::Label(l) => ("label", l),
            AclTarget::Everyone => ("everyone", String::new()),
        };
        Self {
            id: r.id,
            action: match r.action {
                AclAction::Publish => "publish",
                AclAction::Subscribe => "subscribe",
                AclAction::All => "all",
            }
            .into(),
            filter: r.filter,
            target_kind: target_kind.into(),
            target,
            allow: r.allow,
            created_at: r.created_at,
        }
    }
}

/// Lists the tenant's MQTT access rules.
#[utoipa::path(get, path = "/api/mqtt/acl", tag = "mqtt", security(("bearer" = [])),
    responses((status = 200, body = [AclRuleOut]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(me): Auth,
) -> Result<Json<Vec<AclRuleOut>>, ApiError> {
    Ok(Json(
        state
            .platform
            .list_acl_rules(&me)
            .into_iter()
            .map(AclRuleOut::from)
            .collect(),
    ))
}

/// Adds an MQTT access rule; it applies to the next SUBSCRIBE and PUBLISH packets.
#[utoipa::path(post, path = "/api/mqtt/acl", tag = "mqtt", security(("bearer" = [])),
    request_body = AclRuleCreate,
    responses((status = 201, body = AclRuleOut), (status = 403, body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(me): Auth,
    JsonBody(req): JsonBody<AclRuleCreate>,
) -> Result<(StatusCode, Json<AclRuleOut>), ApiError> {
    let rule = state
        .platform
        .add_acl_rule(
            &me,
            AclRuleSpec {
                action: req.action,
                filter: req.filter,
                target_kind: req.target_kind,
                target: req.target,
                allow: req.allow,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(rule.into())))
}

/// Deletes an MQTT access rule.
#[utoipa::path(delete, path = "/api/mqtt/acl/{id}", tag = "mqtt", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.platform.delete_acl_rule(&me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
