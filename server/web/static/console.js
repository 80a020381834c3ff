// privcard console: small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Dashboard: re-fetch the server-rendered live fragment every few seconds.
  function poll(el) {
    var url = el.getAttribute("data-poll");
    var every = parseInt(el.getAttribute("data-interval") || "3000", 10);
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) {
          if (r.redirected || r.status === 401) { window.location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) { if (html !== null && html !== undefined) el.innerHTML = html; })
        .catch(function () { /* offline for a moment: keep the last view */ })
        .then(function () { busy = false; });
    }, every);
  }

  // Show only the fields that apply to the chosen option (credit activity, reward).
  function toggleFields(select, match) {
    var form = select.form;
    function apply() {
      var value = select.value;
      form.querySelectorAll("label[data-for]").forEach(function (label) {
        var on = match(label.getAttribute("data-for").split(" "), value, select);
        label.hidden = !on;
        label.querySelectorAll("input,select").forEach(function (i) { i.disabled = !on; });
      });
    }
    select.addEventListener("change", apply);
    apply();
  }

  // Thai pages: the browser's own date control shows Gregorian years, so each date input gets
  // its Buddhist-era date beside it ("31 พฤษภาคม พ.ศ. 2570"), kept up to date as it changes.
  var TH_MONTHS = ["มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม",
    "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม"];
  function buddhistHint(input) {
    var hint = document.createElement("small");
    hint.className = "be-date muted";
    hint.setAttribute("aria-live", "polite");
    input.insertAdjacentElement("afterend", hint);
    function show() {  // the value is ISO (YYYY-MM-DD, or YYYY-MM-DDTHH:MM): no time zone involved
      var m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}:\d{2}))?/.exec(input.value || "");
      hint.textContent = m ? parseInt(m[3], 10) + " " + TH_MONTHS[parseInt(m[2], 10) - 1] + " พ.ศ. " +
        (parseInt(m[1], 10) + 543) + (m[4] ? " " + m[4] + " น." : "") : "";
    }
    input.addEventListener("input", show);
    input.addEventListener("change", show);
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.documentElement.lang === "th") {
      document.querySelectorAll("input[type=date], input[type=datetime-local]").forEach(buddhistHint);
    }
    var live = document.getElementById("live");
    if (live) poll(live);
    var act = document.getElementById("credit-activity");
    if (act) toggleFields(act, function (names, value) { return names.indexOf(value) >= 0; });
    var reward = document.getElementById("redeem-reward");
    if (reward) toggleFields(reward, function (names, value, sel) {
      var step = sel.options[sel.selectedIndex].getAttribute("data-step");
      return names.indexOf(step ? "fine_discount" : "other") >= 0;
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
      });
    });
  });
})();
