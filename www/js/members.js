// Tenant members: load a tenant's members, change a member's role, remove one (confirmed), add one.
// Who may do what is the worker's decision: every control is offered, and a refusal is shown as the
// contract words it (403 tenant_denied, 404 not_found, 409 last_admin).
import { announce, busy, element, focus, slot } from "./view.js";
import { showError, showFormError } from "./errors.js";
import { client } from "./session.js";

const ROLES = ["viewer", "editor", "admin"];

function roleSelect(id, current) {
  const select = element("select", null, { id, name: "role" });
  for (const role of ROLES) {
    const option = element("option", role, { value: role });
    option.selected = role === current;
    select.append(option);
  }
  return select;
}

function cell(label, content, tag = "td") {
  const c = element(tag, null, { "data-label": label });
  if (tag === "th") c.setAttribute("scope", "row");
  c.append(content);
  return c;
}

/**
 * Binds the members section in `root`. `tenants` are the signed-in user's
 * tenant ids (the first one fills the Tenant field); `onSessionRefused(error)`
 * is called when the session is over (the SDK's `signInAgain`).
 */
export function members(root, { tenants = [], onSessionRefused }) {
  const loadForm = root.querySelector('[data-form="load-members"]');
  const addForm = root.querySelector('[data-form="add-member"]');
  const roster = slot(root, "roster");
  const tenantName = slot(root, "tenant-name");
  const body = slot(root, "members");
  const tableWrap = slot(root, "table-wrap");
  const noMembers = slot(root, "no-members");
  const listError = slot(root, "list-error");
  const heading = root.querySelector("#member-list-heading");
  slot(root, "own-tenants").textContent = tenants.length ? `Yours: ${tenants.join(", ")}.` : "";
  loadForm.elements.tenant.value = tenants[0] ?? "";

  // The tenant the table shows; actions act on it, not on whatever the field holds now.
  let tenant;
  let list = [];

  const refused = (error) => {
    if (error?.signInAgain) onSessionRefused(error);
  };

  function render() {
    const rows = list.map((member, index) => {
      const emailId = `member-row-${index}-email`;
      const selectId = `member-row-${index}-role`;
      const row = element("tr");
      const email = cell("Email", member.email, "th");
      email.id = emailId;

      const roleCell = element("td", null, { "data-label": "Role", class: "role-cell" });
      const select = roleSelect(selectId, member.role);
      roleCell.append(element("label", `Role for ${member.email}`, { for: selectId, class: "visually-hidden" }), select);

      // A role changes on "Save", not on the select's own change: arrowing
      // through a closed select fires `change` at every step, and a step
      // through "admin" must never be sent by accident.
      const save = element("button", "Save", { type: "button", "aria-describedby": emailId });
      save.addEventListener("click", () => changeRole(member, select, save));
      const remove = element("button", "Remove", { type: "button", class: "danger", "aria-describedby": emailId });
      remove.addEventListener("click", () => removeMember(member, remove));
      const actions = element("td", null, { class: "row-actions" });
      actions.append(save, " ", remove);

      row.append(email, cell("Name", member.name || "—"), roleCell, actions);
      return row;
    });
    body.replaceChildren(...rows);
    tableWrap.hidden = rows.length === 0;
    noMembers.hidden = rows.length !== 0;
  }

  /** Shows `wanted`'s members in the table; rejects with the SDK's error. */
  async function load(wanted) {
    try {
      const found = await client.listMembers(wanted);
      tenant = wanted;
      list = [...found];
      tenantName.textContent = tenant;
      showError(listError, null);
      render();
      roster.hidden = false;
    } catch (error) {
      refused(error);
      throw error;
    }
  }

  loadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(loadForm, null);
    const wanted = loadForm.elements.tenant.value.trim();
    await busy(loadForm, async () => {
      try {
        await load(wanted);
        announce(`${list.length} ${list.length === 1 ? "member" : "members"} in ${tenant}.`);
        focus(heading);
      } catch (error) {
        // A tenant this user cannot see: hide the previous tenant's table rather than leave it under the wrong name.
        roster.hidden = true;
        tenant = undefined;
        focus(showFormError(loadForm, error) ?? loadForm.elements.tenant);
      }
    });
  });

  async function changeRole(member, select, button) {
    const role = select.value;
    if (role === member.role) {
      announce(`${member.email} is already ${role} in ${tenant}.`);
      return;
    }
    button.disabled = true;
    try {
      const answer = await client.setMemberRole(tenant, member.email, role);
      member.role = answer?.role ?? role;
      showError(listError, null);
      announce(`${member.email} is now ${member.role} in ${tenant}.`);
    } catch (error) {
      // The row shows what is true: the role the member still holds.
      select.value = member.role;
      showError(listError, error);
      focus(select);
      refused(error);
    } finally {
      button.disabled = false;
    }
  }

  async function removeMember(member, button) {
    const sure = window.confirm(
      `Remove ${member.email} from ${tenant}?\n\nThey lose their ${member.role} role there, and every credential of theirs stops working in ${tenant} within a minute.`,
    );
    if (!sure) return;
    button.disabled = true;
    try {
      await client.setMemberRole(tenant, member.email, null);
      const at = list.indexOf(member);
      list = list.filter((m) => m !== member);
      render();
      showError(listError, null);
      announce(`${member.email} removed from ${tenant}.`);
      // Keep the keyboard near where it was: the next row's Remove, else the heading.
      const buttons = body.querySelectorAll("button.danger");
      focus(buttons[Math.min(at, buttons.length - 1)] ?? heading);
    } catch (error) {
      button.disabled = false;
      showError(listError, error);
      focus(button);
      refused(error);
    }
  }

  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(addForm, null);
    const email = addForm.elements.email.value.trim();
    const role = addForm.elements.role.value;
    await busy(addForm, async () => {
      let answer;
      try {
        answer = await client.setMemberRole(tenant, email, role);
      } catch (error) {
        focus(showFormError(addForm, error) ?? addForm.elements.email);
        refused(error);
        return;
      }
      addForm.reset();
      announce(`${answer?.email ?? email} is now ${answer?.role ?? role} in ${tenant}.`);
      // The answer names the email and role only: list again for the member's name.
      try {
        await load(tenant);
      } catch (error) {
        showError(listError, error);
      }
      focus(addForm.elements.email);
    });
  });
}
