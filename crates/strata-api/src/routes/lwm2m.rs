//! LwM2M management: registered clients, operations on any path of their object tree,
//! observations (notifications land on `/api/events` as `lwm2m` events and in the
//! device's telemetry), object definitions and firmware updates.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json_, json};
use strata_lwm2m::firmware::Method;
use strata_lwm2m::{ClientInfo, Lwm2mError, Lwm2mServer, WriteMode, value_json};
use strata_platform::accounts::Principal;
use strata_proto_coap::lwm2m::{Path, Record, ResourceKind, Value};
use strata_proto_coap::{Code, option};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, Auth, JsonBody, body_bytes};

fn server(state: &AppState) -> Result<&Lwm2mServer, ApiError> {
    state.lwm2m.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the LwM2M server is off (set coap.enabled and lwm2m.enabled)",
        )
    })
}

fn lwm2m_error(e: Lwm2mError) -> ApiError {
    match &e {
        Lwm2mError::NotRegistered(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
        }
        Lwm2mError::Asleep(_) => {
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", e.to_string())
        }
        Lwm2mError::Transport(_) => {
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", e.to_string())
        }
        Lwm2mError::Client { code, .. } => {
            let status = match *code {
                Code::NOT_FOUND => StatusCode::NOT_FOUND,
                Code::METHOD_NOT_ALLOWED => StatusCode::METHOD_NOT_ALLOWED,
                Code::UNAUTHORIZED | Code::FORBIDDEN => StatusCode::FORBIDDEN,
                c if c.class() == 4 => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::BAD_GATEWAY,
            };
            ApiError::new(status, "device_error", e.to_string())
        }
        Lwm2mError::Content(_) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "device_error", e.to_string())
        }
        Lwm2mError::Invalid(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payload",
            e.to_string(),
        ),
        _ => ApiError::new(StatusCode::BAD_GATEWAY, "device_error", e.to_string()),
    }
}

/// Clients of other tenants are invisible: a client belongs to its device's tenant, an
/// unassigned endpoint to the default tenant.
fn visible(state: &AppState, caller: &Principal, client: &ClientInfo) -> bool {
    let tenant = client
        .device
        .map_or_else(|| state.platform.default_tenant(), |d| d.tenant);
    tenant == caller.tenant
}

fn client_of(state: &AppState, caller: &Principal, endpoint: &str) -> Result<ClientInfo, ApiError> {
    server(state)?
        .client(endpoint)
        .filter(|c| visible(state, caller, c))
        .ok_or_else(|| lwm2m_error(Lwm2mError::NotRegistered(endpoint.to_string())))
}

/// A registered client.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientOut {
    /// Endpoint client name.
    pub endpoint: String,
    /// Registration ID.
    pub registration_id: String,
    /// Device it registers as (absent for an unassigned endpoint).
    pub device_id: Option<uuid::Uuid>,
    /// Address it talks from.
    pub address: String,
    /// LwM2M version.
    pub lwm2m_version: String,
    /// Binding mode.
    pub binding: String,
    /// Lifetime, s.
    pub lifetime: u32,
    /// Queue mode.
    pub queue_mode: bool,
    /// Reachable now (false while a queue-mode client sleeps).
    pub awake: bool,
    /// Registered (Unix ms).
    pub registered_at: i64,
    /// Last registration update (Unix ms).
    pub updated_at: i64,
    /// Objects and instances it announced, e.g. `/3/0`, with versions.
    #[schema(value_type = Vec<Object>)]
    pub objects: Vec<Json_>,
    /// Paths observed.
    pub observations: Vec<String>,
}

fn client_out(c: &ClientInfo) -> ClientOut {
    let r = &c.registration;
    ClientOut {
        endpoint: r.endpoint.clone(),
        registration_id: r.id.clone(),
        device_id: c.device.map(|d| d.device_id),
        address: r.peer.to_string(),
        lwm2m_version: r.version.clone(),
        binding: r.binding.clone(),
        lifetime: r.lifetime,
        queue_mode: r.queue_mode,
        awake: c.awake,
        registered_at: r.registered_at,
        updated_at: r.updated_at,
        objects: r
            .objects
            .iter()
            .map(|o| json!({"path": o.path.to_string(), "version": o.version}))
            .collect(),
        observations: c.observations.iter().map(ToString::to_string).collect(),
    }
}

/// Lists the registered clients.
#[utoipa::path(get, path = "/api/lwm2m/clients", tag = "lwm2m", security(("bearer" = [])),
    responses((status = 200, body = Vec<ClientOut>), (status = 503, body = ErrorBody)))]
pub(crate) async fn list_clients(
    State(state): State<AppState>,
    Auth(me): Auth,
) -> Result<Json<Vec<ClientOut>>, ApiError> {
    let mut clients: Vec<ClientOut> = server(&state)?
        .clients()
        .iter()
        .filter(|c| visible(&state, &me, c))
        .map(client_out)
        .collect();
    clients.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
    Ok(Json(clients))
}

/// One registered client and its registration state.
#[utoipa::path(get, path = "/api/lwm2m/clients/{endpoint}", tag = "lwm2m",
    security(("bearer" = [])), params(("endpoint" = String, Path)),
    responses((status = 200, body = ClientOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_client(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(endpoint): ApiPath<String>,
) -> Result<Json<ClientOut>, ApiError> {
    Ok(Json(client_out(&client_of(&state, &me, &endpoint)?)))
}

/// Read options.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ReadQuery {
    /// Ask for a content format: `tlv`, `senml-json`, `senml-cbor`, `text` (default: the
    /// client picks).
    format: Option<String>,
}

fn parse_path(raw: &str) -> Result<Path, ApiError> {
    Path::parse(raw).map_err(|e| ApiError::parameter(format!("{e} (got {raw:?})")))
}

fn format_code(name: Option<&str>) -> Result<Option<u16>, ApiError> {
    Ok(match name {
        None => None,
        Some("tlv") => Some(option::format::LWM2M_TLV),
        Some("senml-json") => Some(option::format::SENML_JSON),
        Some("senml-cbor") => Some(option::format::SENML_CBOR),
        Some("text") => Some(option::format::TEXT),
        Some("opaque") => Some(option::format::OCTET_STREAM),
        Some(other) => {
            return Err(ApiError::parameter(format!(
                "unknown format {other:?}; use tlv, senml-json, senml-cbor, text or opaque"
            )));
        }
    })
}

/// Values read from a client.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValuesOut {
    /// The path read.
    pub path: String,
    /// One entry per resource (instance): `{"path": "/3/0/0", "value": "Strata"}`.
    #[schema(value_type = Vec<Object>)]
    pub values: Vec<Json_>,
}

fn values_out(path: &Path, records: &[Record]) -> ValuesOut {
    ValuesOut {
        path: path.to_string(),
        values: records
            .iter()
            .map(|r| json!({"path": r.path.to_string(), "value": value_json(&r.value)}))
            .collect(),
    }
}

/// Reads an object, instance, resource or resource instance.
#[utoipa::path(get, path = "/api/lwm2m/clients/{endpoint}/objects/{path}", tag = "lwm2m",
    security(("bearer" = [])),
    params(("endpoint" = String, Path), ("path" = String, Path, description = "e.g. 3/0/1"), ReadQuery),
    responses((status = 200, body = ValuesOut), (status = 404, body = ErrorBody),
        (status = 504, description = "No answer, or a queue-mode client did not wake up", body = ErrorBody)))]
pub(crate) async fn read(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((endpoint, raw)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<ReadQuery>,
) -> Result<Json<ValuesOut>, ApiError> {
    client_of(&state, &me, &endpoint)?;
    let path = parse_path(&raw)?;
    let format = format_code(q.format.as_deref())?;
    let records = server(&state)?
        .read(&endpoint, path, format)
        .await
        .map_err(lwm2m_error)?;
    Ok(Json(values_out(&path, &records)))
}

/// Values to write: `{"value": v}` for the path itself, or `{"values": [{"path", "value"}]}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteBody {
    /// One value for a resource or resource-instance path.
    #[schema(value_type = Object)]
    value: Option<Json_>,
    /// Several values under the path.
    #[schema(value_type = Vec<Object>)]
    values: Option<Vec<PathValue>>,
}

/// One value at a path.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PathValue {
    /// Full path, e.g. `/3/0/14`.
    path: String,
    /// The value (typed by the object model: numbers, strings, booleans; `"3:0"` for
    /// object links; hex for opaque).
    #[schema(value_type = Object)]
    value: Json_,
}

/// Converts a JSON value to the resource's type from the object model.
fn typed(server: &Lwm2mServer, path: &Path, json: &Json_) -> Result<Value, ApiError> {
    let (Some(resource), object) = (path.resource, path.object) else {
        return Err(ApiError::parameter(format!(
            "{path} is not a resource path"
        )));
    };
    let kind = server
        .with_models(|m| m.resource(object, resource).map(|r| r.kind))
        .flatten();
    let bad = || {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payload",
            format!("{path}: value {json} does not fit the resource's type ({kind:?})"),
        )
    };
    Ok(match (kind, json) {
        (Some(ResourceKind::String) | None, Json_::String(s)) => Value::String(s.clone()),
        (Some(ResourceKind::CoreLink), Json_::String(s)) => Value::CoreLink(s.clone()),
        (Some(ResourceKind::Integer), j) => Value::Integer(j.as_i64().ok_or_else(bad)?),
        (Some(ResourceKind::Time), j) => Value::Time(j.as_i64().ok_or_else(bad)?),
        (Some(ResourceKind::UnsignedInteger), j) => {
            Value::UnsignedInteger(j.as_u64().ok_or_else(bad)?)
        }
        (Some(ResourceKind::Float), j) => Value::Float(j.as_f64().ok_or_else(bad)?),
        (None, Json_::Number(n)) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64().ok_or_else(bad)?),
        },
        (Some(ResourceKind::Boolean) | None, Json_::Bool(b)) => Value::Boolean(*b),
        (Some(ResourceKind::Opaque), Json_::String(s)) => {
            Value::Opaque(hex::decode(s).map_err(|_| bad())?)
        }
        (Some(ResourceKind::ObjLink), Json_::String(s)) => {
            let (o, i) = s.split_once(':').ok_or_else(bad)?;
            Value::ObjLink(o.parse().map_err(|_| bad())?, i.parse().map_err(|_| bad())?)
        }
        _ => return Err(bad()),
    })
}

fn records(server: &Lwm2mServer, path: &Path, body: &WriteBody) -> Result<Vec<Record>, ApiError> {
    match (&body.value, &body.values) {
        (Some(v), None) => Ok(vec![Record {
            path: *path,
            value: typed(server, path, v)?,
            time: None,
        }]),
        (None, Some(values)) => values
            .iter()
            .map(|pv| {
                let p = parse_path(&pv.path)?;
                Ok(Record {
                    path: p,
                    value: typed(server, &p, &pv.value)?,
                    time: None,
                })
            })
            .collect(),
        _ => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payload",
            "give either `value` or `values`",
        )),
    }
}

async fn write(
    state: AppState,
    me: Principal,
    endpoint: String,
    raw: String,
    body: WriteBody,
    mode: WriteMode,
) -> Result<StatusCode, ApiError> {
    me.require_write()?;
    client_of(&state, &me, &endpoint)?;
    let server = server(&state)?;
    let path = parse_path(&raw)?;
    let records = records(server, &path, &body)?;
    server
        .write(&endpoint, path, &records, mode)
        .await
        .map_err(lwm2m_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Writes (replace) an instance, resource or resource instance.
#[utoipa::path(put, path = "/api/lwm2m/clients/{endpoint}/objects/{path}", tag = "lwm2m",
    security(("bearer" = [])), params(("endpoint" = String, Path), ("path" = String, Path)),
    request_body = WriteBody,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn write_replace(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((endpoint, raw)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<WriteBody>,
) -> Result<StatusCode, ApiError> {
    write(state, me, endpoint, raw, body, WriteMode::Replace).await
}

/// Writes (partial update) resources of an instance.
#[utoipa::path(patch, path = "/api/lwm2m/clients/{endpoint}/objects/{path}", tag = "lwm2m",
    security(("bearer" = [])), params(("endpoint" = String, Path), ("path" = String, Path)),
    request_body = WriteBody,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn write_update(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((endpoint, raw)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<WriteBody>,
) -> Result<StatusCode, ApiError> {
    write(state, me, endpoint, raw, body, WriteMode::PartialUpdate).await
}

/// Executes a resource (`/3/0/4` reboots), or creates an instance when the path is an
/// object (the body's `values` name the new instance, e.g. `/3303/1/5700`).
#[utoipa::path(post, path = "/api/lwm2m/clients/{endpoint}/objects/{path}", tag = "lwm2m",
    security(("bearer" = [])), params(("endpoint" = String, Path), ("path" = String, Path)),
    request_body(content = Object, description = "Execute: optional `{\"arguments\": \"0='x'\"}`; create: `{\"values\": [...]}`"),
    responses((status = 204), (status = 201, description = "Created"), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn execute_or_create(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((endpoint, raw)): ApiPath<(String, String)>,
    req: Request,
) -> Result<(StatusCode, Json<Json_>), ApiError> {
    me.require_write()?;
    client_of(&state, &me, &endpoint)?;
    let server = server(&state)?;
    let path = parse_path(&raw)?;
    let bytes = body_bytes(req, &state).await?;
    let body: Json_ = if bytes.is_empty() {
        Json_::Null
    } else {
        crate::extract::parse_json(&bytes)?
    };
    if path.instance.is_none() {
        let body: WriteBody = serde_json::from_value(body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_payload",
                e.to_string(),
            )
        })?;
        let records = records(server, &path, &body)?;
        let location = server
            .create(&endpoint, path.object, &records)
            .await
            .map_err(lwm2m_error)?;
        return Ok((StatusCode::CREATED, Json(json!({"location": location}))));
    }
    let arguments = body
        .get("arguments")
        .and_then(Json_::as_str)
        .map(str::to_string);
    server
        .execute(&endpoint, path, arguments.as_deref())
        .await
        .map_err(lwm2m_error)?;
    Ok((StatusCode::OK, Json(json!({"executed": path.to_string()}))))
}

/// Deletes an object instance.
#[utoipa::path(delete, path = "/api/lwm2m/clients/{endpoint}/objects/{path}", tag = "lwm2m",
    security(("bearer" = [])), params(("endpoint" = String, Path), ("path" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((endpoint, raw)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    me.require_write()?;
    client_of(&state, &me, &endpoint)?;
    let path = parse_path(&raw)?;
    server(&state)?
        .delete(&endpoint, path)
        .await
        .map_err(lwm2m_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Discovers what the client has under a path (CoRE link format with attributes).
#[utoipa::path(get, path = "/api/lwm2m/clients/{endpoint}/discover/{path}", tag = "lwm2m",
    security(("bearer" = [])), params(("endpoint" = String, Path), ("path" = String, Path)),
    responses((status = 200, description = "`{\"links\": \"</3/0/1>,...\"}`"), (status = 404, body = ErrorBody)))]
pub(crate) async fn discover(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((endpoint, raw)): ApiPath<(String, String)>,
) -> Result<Json<Json_>, ApiError> {
    client_of(&state, &me, &endpoint)?;
    let path = parse_path(&raw)?;
    let links = server(&state)?
        .discover(&endpoint, path)
        .await
        .map_err(lwm2m_error)?;
    Ok(Json(json!({"path": path.to_string(), "links": links})))
}

/// Notification attributes to write.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AttributesQuery {
    /// Minimum period, s.
    pmin: Option<String>,
    /// Maximum period, s.
    pmax: Option<String>,
    /// Greater than.
    gt: Option<String>,
    /// Less than.
    lt: Option<String>,
    /// Step.
    st: Option<String>,
    /// Minimum evaluation period, s.
    epmin: Option<String>,
    /// Maximum evaluation period, s.
    epmax: Option<String>,
}

/// Writes notification attributes (`?pmin=10&pmax=60&st=0.5`); an empty value removes one.
#[utoipa::path(put, path = "/api/lwm2m/clients/{endpoint}/attributes/{path}", tag = "lwm2m",
    security(("bearer" = [])),
    params(("endpoint" = String, Path), ("path" = String, Path), AttributesQuery),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn write_attributes(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((endpoint, raw)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<AttributesQuery>,
) -> Result<StatusCode, ApiError> {
    me.require_write()?;
    client_of(&state, &me, &endpoint)?;
    let path = parse_path(&raw)?;
    let attributes: Vec<(String, Option<String>)> = [
        ("pmin", q.pmin),
        ("pmax", q.pmax),
        ("gt", q.gt),
        ("lt", q.lt),
        ("st", q.st),
        ("epmin", q.epmin),
        ("epmax", q.epmax),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_string(), (!v.is_empty()).then_some(v))))
    .collect();
    server(&state)?
        .write_attributes(&endpoint, path, &attributes)
        .await
        .map_err(lwm2m_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Observes a path: answers the current value; notifications follow as `lwm2m` events on
/// `/api/events` and as telemetry of the client's device (keys like `3303/0/5700`).
#[utoipa::path(post, path = "/api/lwm2m/clients/{endpoint}/observe/{path}", tag = "lwm2m",
    security(("bearer" = [])), params(("endpoint" = String, Path), ("path" = String, Path)),
    responses((status = 200, body = ValuesOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn observe(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((endpoint, raw)): ApiPath<(String, String)>,
) -> Result<Json<ValuesOut>, ApiError> {
    me.require_write()?;
    client_of(&state, &me, &endpoint)?;
    let path = parse_path(&raw)?;
    let records = server(&state)?
        .observe(&endpoint, path)
        .await
        .map_err(lwm2m_error)?;
    Ok(Json(values_out(&path, &records)))
}

/// Cancels the observations at or below a path.
#[utoipa::path(delete, path = "/api/lwm2m/clients/{endpoint}/observe/{path}", tag = "lwm2m",
    security(("bearer" = [])), params(("endpoint" = String, Path), ("path" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn cancel_observe(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((endpoint, raw)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    me.require_write()?;
    client_of(&state, &me, &endpoint)?;
    let path = parse_path(&raw)?;
    let found = server(&state)?
        .cancel_observation(&endpoint, path)
        .await
        .map_err(lwm2m_error)?;
    if found {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("nothing observed at {path}"),
        ))
    }
}

/// The object definitions the server knows.
#[utoipa::path(get, path = "/api/lwm2m/objects", tag = "lwm2m", security(("bearer" = [])),
    responses((status = 200, description = "Object definitions with their resources")))]
pub(crate) async fn objects(
    State(state): State<AppState>,
    Auth(_me): Auth,
) -> Result<Json<Vec<Json_>>, ApiError> {
    let list = server(&state)?
        .with_models(|m| {
            let mut v: Vec<Json_> = m
                .objects()
                .map(|o| {
                    json!({
                        "id": o.id, "name": o.name, "version": o.object_version,
                        "multiple": o.multiple, "mandatory": o.mandatory,
                        "resources": o.resources.values().map(|r| json!({
                            "id": r.id, "name": r.name, "type": format!("{:?}", r.kind),
                            "operations": format!("{}{}{}", if r.operations.read {"R"} else {""},
                                if r.operations.write {"W"} else {""}, if r.operations.execute {"E"} else {""}),
                            "multiple": r.multiple, "mandatory": r.mandatory, "units": r.units,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            v.sort_by_key(|o| o["id"].as_u64());
            v
        })
        .unwrap_or_default();
    Ok(Json(list))
}

/// Upload options.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadQuery {
    /// A name for people.
    name: Option<String>,
}

/// Uploads a firmware package (the body, any bytes); answers its ID.
#[utoipa::path(post, path = "/api/lwm2m/firmware", tag = "lwm2m", security(("bearer" = [])),
    params(UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "`{\"id\": \"...\", \"size\": n}`"), (status = 422, body = ErrorBody)))]
pub(crate) async fn upload_firmware(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiQuery(q): ApiQuery<UploadQuery>,
    req: Request,
) -> Result<(StatusCode, Json<Json_>), ApiError> {
    me.require_write()?;
    let server = server(&state)?.clone();
    let bytes = body_bytes(req, &state).await?;
    let size = bytes.len();
    let id = server
        .add_firmware(q.name.as_deref().unwrap_or("firmware"), bytes.to_vec())
        .map_err(lwm2m_error)?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "size": size}))))
}

/// A firmware update to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirmwareUpdate {
    /// Package ID from the upload.
    image: String,
    /// `push` (written block-wise to /5/0/0) or `pull` (the client downloads it).
    method: String,
    /// For pull: the URI to give the client (default: Strata's `coap://.../fw/{id}`).
    uri: Option<String>,
}

fn status_json(s: &strata_lwm2m::firmware::Status) -> Json_ {
    json!({
        "image": s.image, "method": s.method, "phase": s.phase, "state": s.state,
        "result": s.result, "error": s.error, "started_at": s.started_at,
        "updated_at": s.updated_at,
    })
}

/// Starts a firmware update of a client; follow it with GET on the same path.
#[utoipa::path(post, path = "/api/lwm2m/clients/{endpoint}/firmware", tag = "lwm2m",
    security(("bearer" = [])), params(("endpoint" = String, Path)), request_body = FirmwareUpdate,
    responses((status = 202, description = "Started; the status"), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn start_firmware(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(endpoint): ApiPath<String>,
    JsonBody(req): JsonBody<FirmwareUpdate>,
) -> Result<(StatusCode, Json<Json_>), ApiError> {
    me.require_write()?;
    client_of(&state, &me, &endpoint)?;
    let server = server(&state)?;
    let method = match req.method.as_str() {
        "push" => Method::Push,
        "pull" => Method::Pull(
            req.uri
                .unwrap_or_else(|| format!("{}/fw/{}", server.server_uri(), req.image)),
        ),
        other => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_payload",
                format!("unknown method {other:?}; use push or pull"),
            ));
        }
    };
    let status = server
        .start_firmware_update(&endpoint, &req.image, method)
        .map_err(lwm2m_error)?;
    Ok((StatusCode::ACCEPTED, Json(status_json(&status))))
}

/// The status of a client's last firmware update: phase (`sending`, `downloading`,
/// `downloaded`, `updating`, `succeeded`, `failed`), Object 5 State and Update Result.
#[utoipa::path(get, path = "/api/lwm2m/clients/{endpoint}/firmware", tag = "lwm2m",
    security(("bearer" = [])), params(("endpoint" = String, Path)),
    responses((status = 200, description = "The status"), (status = 404, body = ErrorBody)))]
pub(crate) async fn firmware_status(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(endpoint): ApiPath<String>,
) -> Result<Json<Json_>, ApiError> {
    client_of(&state, &me, &endpoint)?;
    let status = server(&state)?.firmware_status(&endpoint).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no firmware update was started for this client",
        )
    })?;
    Ok(Json(status_json(&status)))
}
