// The shapes of the REST API (see crates/strata-api/src/routes/*.rs and /api/openapi.json).

export type Role = "admin" | "operator" | "viewer";

export interface User {
  id: string;
  username: string;
  role: Role;
  tenant_id?: number;
  created_at?: number;
}

/** `GET /api/tenants` (admins of the default tenant). */
export interface Tenant {
  id: number;
  name: string;
}

/** `POST /api/auth/session` and `GET /api/auth/session`. */
export interface Session {
  user: User;
  csrf_token: string;
  expires_at: number | null;
}

export interface Connectivity {
  online: boolean;
  connections: number;
  last_seen_at: number | null;
  last_connected_at: number | null;
  last_disconnected_at: number | null;
}

export interface Device {
  id: string;
  name: string;
  type: string;
  labels: string[];
  metadata: Record<string, unknown>;
  created_at: number;
  updated_at: number;
  connectivity?: Connectivity;
}

export interface DevicePage {
  items: Device[];
  total: number;
  offset: number;
  limit: number;
}

export interface Credential {
  id: string;
  kind: string;
  hint: string;
  created_at: number;
  revoked_at: number | null;
}

export interface AccessTokenIssued {
  access_token: string;
  credential: Credential;
}

export interface DeviceCreated extends Device {
  credentials: AccessTokenIssued;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface TsValue {
  ts: number;
  value: Json;
}

export type LatestMap = Record<string, TsValue>;

export interface SeriesOut {
  key: string;
  points: TsValue[];
  next: number | null;
  /** Set by the server when it downsampled the range to `max_points`. */
  downsampled?: boolean;
}

export interface RangeOut {
  series: SeriesOut[];
}

export interface AggregateOut {
  agg: string;
  interval: number;
  series: { key: string; buckets: { ts: number; value: number | null; count: number }[] }[];
}

export interface ShadowDoc {
  name: string;
  state: { desired?: Record<string, Json>; reported?: Record<string, Json>; delta?: Record<string, Json> };
  metadata?: Json;
  version: number;
  timestamp: number;
}

export interface RpcCall {
  id: number;
  method: string;
  params: Json;
  oneway: boolean;
  persistent: boolean;
  status: string;
  response: Json | null;
  error: string | null;
  created_at: number;
  expires_at: number;
  updated_at: number;
}

export type Severity = "critical" | "major" | "minor" | "warning" | "indeterminate";
export const SEVERITIES: Severity[] = ["critical", "major", "minor", "warning", "indeterminate"];

export interface Alarm {
  id: string;
  device_id: string;
  device_name: string;
  type: string;
  severity: Severity;
  status: "active" | "acknowledged" | "cleared";
  acknowledged: boolean;
  cleared: boolean;
  details: Json;
  repeats: number;
  created_at: number;
  updated_at: number;
  acknowledged_at: number | null;
  cleared_at: number | null;
}

export interface Rule {
  id: string;
  name: string;
  enabled: boolean;
  trigger: string;
  filter?: string;
  for_ms?: number;
  inactivity_ms?: number;
  transform?: string;
  actions: { type: string; [k: string]: Json }[];
  created_at: number;
  updated_at: number;
}

export type WidgetType = "timeseries" | "gauge" | "value" | "table" | "alarms";
export const WIDGET_TYPES: WidgetType[] = ["timeseries", "gauge", "value", "table", "alarms"];
export const MAX_WIDGETS = 50;
export const MAX_WIDGET_KEYS = 16;

export interface WidgetOptions {
  min?: number;
  max?: number;
  unit?: string;
  window_ms?: number;
  [k: string]: Json | undefined;
}

export interface Widget {
  id: string;
  type: WidgetType;
  title: string;
  device_id?: string;
  keys?: string[];
  options?: WidgetOptions;
}

export interface DashboardSummary {
  id: string;
  name: string;
  updated_at: number;
  /** How many widgets it has (in lists). */
  widgets?: number | Widget[];
}

export interface Dashboard extends Omit<DashboardSummary, "widgets"> {
  widgets: Widget[];
  created_at: number;
}

export type EventKind =
  | "telemetry"
  | "attributes"
  | "shadow"
  | "connect"
  | "disconnect"
  | "alarm"
  | "rpc"
  | "lwm2m";

/** One event of the live stream (`/api/ws` sends arrays of these). For `telemetry`,
 * `data` maps each key to its value at `ts`; for `alarm` it is `{change, alarm}`; for
 * `shadow` the shadow document. */
export interface LiveEvent {
  kind: EventKind;
  device_id: string | null;
  ts: number;
  data: Record<string, Json>;
}
