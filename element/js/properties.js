// Public properties and methods of <python-runner>, defined once on the class prototype.
// The custom-elements crate defines the class; this adds what it cannot: prototype accessors.
// Each element's constructor stores its handle (bindings.rs, `Handle`) as `__pythonRunner`.

export function define_properties(tag) {
  const proto = customElements.get(tag).prototype;
  const define = (name, descriptor) =>
    Object.defineProperty(proto, name, { configurable: true, ...descriptor });
  const reflectString = (name, attribute) =>
    define(name, {
      get() { return this.getAttribute(attribute); },
      set(value) {
        if (value == null) this.removeAttribute(attribute);
        else this.setAttribute(attribute, String(value));
      },
    });
  const reflectBoolean = (name, attribute) =>
    define(name, {
      get() { return this.hasAttribute(attribute); },
      set(value) { this.toggleAttribute(attribute, Boolean(value)); },
    });
  reflectString("pyodideUrl", "pyodide-url");
  reflectString("transport", "transport");
  reflectBoolean("manual", "manual");
  reflectBoolean("hideCode", "hide-code");
  define("code", {
    get() { return this.__pythonRunner.code(this); },
    set(value) {
      this.__pythonRunnerCode = value == null ? undefined : String(value);
      this.__pythonRunner.codeChanged();
    },
  });
  define("state", { get() { return this.__pythonRunner.state(); } });
  define("activeTransport", { get() { return this.__pythonRunner.activeTransport() ?? null; } });
  define("run", { value() { this.__pythonRunner.run(); }, writable: true });
  define("stop", { value() { this.__pythonRunner.stop(); }, writable: true });
}

// Properties set on an element before the class was defined are own data properties that
// shadow the prototype accessors. `upgrade_early_properties` moves them onto the accessors
// (the usual custom-element "upgrade property" step); Rust calls it from a microtask, because
// the accessors set observed attributes, which must not happen inside a lifecycle callback.
const UPGRADED = ["code", "pyodideUrl", "manual", "hideCode", "transport"];
const own = (element, name) => Object.prototype.hasOwnProperty.call(element, name);

export function has_early_properties(element) {
  return UPGRADED.some((name) => own(element, name));
}

export function upgrade_early_properties(element) {
  for (const name of UPGRADED) {
    if (!own(element, name)) continue;
    const value = element[name];
    delete element[name];
    element[name] = value;
  }
}
