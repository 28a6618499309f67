// The store pages' cart. The pages work without it: each product's form then orders that product
// alone. With it, the forms add to a cart kept in this browser (localStorage, one per store),
// and "Send order on WhatsApp" posts the cart as one order and opens the message it answers.
// The pages are cached for every visitor alike, so everything about this one lives here.
(function () {
  "use strict";
  var script = document.currentScript;
  var store = script && script.getAttribute("data-store");
  var storage;
  try {
    storage = window.localStorage;
  } catch (e) {
    storage = null;
  }
  if (!store || !storage || !window.fetch || !window.JSON) return;

  var KEY = "quickvendor-cart:" + store;
  var MAX_QUANTITY = 99;
  var FIELDS = [
    ["customer_name", "Your name", "text", 100],
    ["customer_phone", "Your phone", "tel", 40],
    ["delivery_area", "Delivery area", "text", 100],
    ["note", "Note", "textarea", 1000]
  ];
  var cart = load();
  var panel, toggle, body, list, totalLine, problem, send, inputs = {};

  function load() {
    var saved = null;
    try {
      saved = JSON.parse(storage.getItem(KEY) || "null");
    } catch (e) {
      saved = null;
    }
    if (!saved || !Array.isArray(saved.items)) saved = { items: [], details: {} };
    saved.details = saved.details || {};
    return saved;
  }

  function save() {
    try {
      storage.setItem(KEY, JSON.stringify(cart));
    } catch (e) {
      // Storage full or refused: the cart still works on this page.
    }
  }

  function changed() {
    // Another cart is another order: a key already sent belongs to the cart as it was.
    cart.key = null;
    save();
    render();
  }

  // Amounts in kobo (whole numbers), so the running total adds up exactly.
  function kobo(price) {
    var parts = String(price).split(".");
    return parseInt(parts[0], 10) * 100 + parseInt(((parts[1] || "") + "00").slice(0, 2), 10);
  }

  function naira(amount) {
    var whole = String(Math.floor(amount / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return "\u20a6" + whole + "." + String(100 + (amount % 100)).slice(1);
  }

  function quantity(value) {
    var n = parseInt(value, 10);
    return isNaN(n) ? 1 : Math.min(MAX_QUANTITY, Math.max(1, n));
  }

  function find(id) {
    for (var i = 0; i < cart.items.length; i++) if (cart.items[i].id === id) return cart.items[i];
    return null;
  }

  function add(form) {
    var id = form.getAttribute("data-id");
    var field = form.elements.quantity;
    var wanted = quantity(field ? field.value : 1);
    var line = find(id);
    if (line) {
      line.quantity = Math.min(MAX_QUANTITY, line.quantity + wanted);
    } else {
      line = { id: id, quantity: wanted };
      cart.items.push(line);
    }
    // The page's name and price now; the order takes both from the store when it is placed.
    line.name = form.getAttribute("data-name");
    line.price = form.getAttribute("data-price");
    if (field) field.value = 1;
    changed();
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function build() {
    panel = element("aside", "cart");
    panel.setAttribute("aria-label", "Your order");
    toggle = element("button", "cart-bar");
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", "false");
    toggle.addEventListener("click", function () {
      open(body.hidden);
    });
    body = element("div", "cart-body");
    body.hidden = true;
    body.appendChild(element("h2", "", "Your order"));
    list = element("ul", "cart-lines");
    body.appendChild(list);
    totalLine = element("p", "cart-total");
    body.appendChild(totalLine);
    var details = element("div", "cart-details");
    FIELDS.forEach(function (spec) {
      var label = element("label", "", spec[1] + " (optional)");
      var input = element(spec[2] === "textarea" ? "textarea" : "input");
      if (spec[2] !== "textarea") input.type = spec[2];
      else input.rows = 2;
      input.name = spec[0];
      input.maxLength = spec[3];
      input.value = cart.details[spec[0]] || "";
      input.addEventListener("change", function () {
        cart.details[spec[0]] = input.value;
        changed();
      });
      inputs[spec[0]] = input;
      label.appendChild(input);
      details.appendChild(label);
    });
    body.appendChild(details);
    problem = element("p", "error");
    problem.setAttribute("role", "alert");
    problem.hidden = true;
    body.appendChild(problem);
    send = element("button", "cart-send", "Send order on WhatsApp");
    send.type = "button";
    send.addEventListener("click", submit);
    body.appendChild(send);
    panel.appendChild(toggle);
    panel.appendChild(body);
    document.body.appendChild(panel);
  }

  function open(yes) {
    body.hidden = !yes;
    toggle.setAttribute("aria-expanded", yes ? "true" : "false");
  }

  function render() {
    var count = 0;
    var total = 0;
    list.textContent = "";
    cart.items.forEach(function (line) {
      count += line.quantity;
      total += kobo(line.price) * line.quantity;
      var row = element("li");
      row.appendChild(element("span", "name", line.name));
      var field = element("input");
      field.type = "number";
      field.min = 1;
      field.max = MAX_QUANTITY;
      field.value = line.quantity;
      field.setAttribute("aria-label", "Quantity of " + line.name);
      field.addEventListener("change", function () {
        line.quantity = quantity(field.value);
        changed();
      });
      row.appendChild(field);
      row.appendChild(element("span", "amount", naira(kobo(line.price) * line.quantity)));
      var remove = element("button", "secondary", "Remove");
      remove.type = "button";
      remove.setAttribute("aria-label", "Remove " + line.name);
      remove.addEventListener("click", function () {
        cart.items.splice(cart.items.indexOf(line), 1);
        changed();
      });
      row.appendChild(remove);
      list.appendChild(row);
    });
    toggle.textContent =
      "Your order: " + count + " item" + (count === 1 ? "" : "s") + " \u00b7 " + naira(total);
    totalLine.textContent = "Total " + naira(total);
    panel.hidden = cart.items.length === 0;
    document.body.classList.toggle("has-cart", !panel.hidden);
    if (panel.hidden) open(false);
  }

  function show(message) {
    problem.textContent = message;
    problem.hidden = !message;
  }

  // A 422's errors, each said about the product or field it names.
  function explain(answer, sent) {
    var errors = (answer && answer.errors) || [];
    if (!errors.length) return (answer && answer.detail) || "The order could not be sent.";
    return errors
      .map(function (error) {
        var loc = error.loc || [];
        var message = String(error.msg || "");
        if (loc[1] === "items" && typeof loc[2] === "number" && sent[loc[2]]) {
          var line = sent[loc[2]];
          var cut = message.indexOf(": ");
          if (message.indexOf(line.id) === 0 && cut > 0) message = message.slice(cut + 2);
          return line.name + ": " + message;
        }
        for (var i = 0; i < FIELDS.length; i++) {
          if (loc[1] === FIELDS[i][0]) return FIELDS[i][1] + ": " + message;
        }
        return message;
      })
      .join(" ");
  }

  function randomKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return (b + 256).toString(16).slice(1);
      })
      .join("");
  }

  function submit() {
    if (!cart.items.length || send.disabled) return;
    var sent = cart.items.slice();
    var order = {
      items: sent.map(function (line) {
        return { product_id: line.id, quantity: line.quantity };
      })
    };
    FIELDS.forEach(function (spec) {
      var value = inputs[spec[0]].value.trim();
      cart.details[spec[0]] = inputs[spec[0]].value;
      if (value) order[spec[0]] = value;
    });
    // One key per cart as sent: a second tap, or a retry after a lost answer, is the same order.
    cart.key = cart.key || randomKey();
    save();
    send.disabled = true;
    show("");
    fetch("/api/store/" + encodeURIComponent(store) + "/orders", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": cart.key },
      body: JSON.stringify(order)
    })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (answer) {
            if (response.ok && answer && answer.whatsapp_url) {
              storage.removeItem(KEY);
              cart = { items: [], details: {} };
              render();
              window.location.assign(answer.whatsapp_url);
              return;
            }
            show(explain(answer, sent));
          });
      })
      .catch(function () {
        show("The order could not be sent: check your connection and try again.");
      })
      .then(function () {
        send.disabled = false;
      });
  }

  build();
  Array.prototype.forEach.call(document.querySelectorAll("form.add"), function (form) {
    var button = form.querySelector("button");
    if (button) button.textContent = "Add to order";
    var details = form.querySelector(".details");
    if (details) details.hidden = true;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      add(form);
      if (button) {
        button.textContent = "Added \u2713";
        setTimeout(function () {
          button.textContent = "Add to order";
        }, 1500);
      }
    });
  });
  render();
  // Another tab of this store changed the cart.
  window.addEventListener("storage", function (event) {
    if (event.key === KEY) {
      cart = load();
      render();
    }
  });
})();
