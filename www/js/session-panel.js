// The session panel: who is signed in, their scopes and tenants, and how long the access token has left.
import { chips, element, slot, time } from "./view.js";
import { describeSession, serverNow } from "./session.js";

function duration(ms) {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m > 0) return `${m} min ${String(s).padStart(2, "0")} s`;
  return `${s} s`;
}

/** Binds the panel in `root`; `update(session)` redraws it, the countdown ticks by itself. */
export function sessionPanel(root) {
  const access = slot(root, "access");
  const remaining = element("span");
  const expiry = element("span", null, { class: "muted" });
  access.replaceChildren(remaining, " ", expiry);
  let expiresAtMs;

  const tick = () => {
    if (expiresAtMs === undefined) return;
    const left = expiresAtMs - serverNow();
    remaining.textContent = left > 0 ? `expires in ${duration(left)}` : "expired: renewing…";
  };
  const ticker = setInterval(tick, 1000);

  return {
    update(session) {
      const s = describeSession(session);
      slot(root, "name").textContent = s.name || "—";
      slot(root, "user-id").textContent = s.userId;
      slot(root, "scopes").replaceChildren(chips(s.scopes, "none"));
      const tenants = Object.entries(s.tenants).map(([tenant, role]) => `${tenant} (${role})`);
      slot(root, "tenants").replaceChildren(chips(tenants, "none"));
      expiresAtMs = Number.isFinite(s.expiresAtMs) ? s.expiresAtMs : undefined;
      expiry.replaceChildren();
      if (expiresAtMs !== undefined) {
        const at = new Date(expiresAtMs);
        expiry.append("(at ", element("time", at.toLocaleTimeString(), { datetime: at.toISOString() }), ")");
      }
      slot(root, "refresh").replaceChildren("renews itself until ", time(s.refreshExpiresAt), " unless you sign out");
      tick();
    },
    stop() {
      clearInterval(ticker);
    },
  };
}
