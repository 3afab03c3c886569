// Swagger UI, loaded when a console opens: the bundle and stylesheet the build copied from npm
// `swagger-ui-dist` into `/assets/` (vite.config.ts), served by this server like the rest.

/** What the portal uses of a Swagger UI instance. */
export interface SwaggerUi {
  preauthorizeApiKey(scheme: string, key: string): void;
}

interface SwaggerRequest {
  url: string;
  headers: Record<string, string>;
}

export interface SwaggerOptions {
  domNode: HTMLElement;
  spec: unknown;
  requestInterceptor: (req: SwaggerRequest) => SwaggerRequest;
  onComplete: () => void;
}

type Bundle = ((o: Record<string, unknown>) => SwaggerUi) & { presets: { apis: unknown } };

declare global {
  interface Window {
    SwaggerUIBundle?: Bundle;
  }
}

let loading: Promise<Bundle> | null = null;

function load(): Promise<Bundle> {
  if (window.SwaggerUIBundle) return Promise.resolve(window.SwaggerUIBundle);
  loading ??= new Promise<Bundle>((ok, fail) => {
    const base = `/assets/swagger-ui-${__SWAGGER_UI_VERSION__}`;
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = `${base}.css`;
    document.head.appendChild(css);
    const script = document.createElement('script');
    script.src = `${base}.js`;
    script.onload = () => (window.SwaggerUIBundle ? ok(window.SwaggerUIBundle) : fail(new Error('Swagger UI did not load')));
    script.onerror = () => {
      loading = null;
      fail(new Error('the console (Swagger UI) could not be loaded from this server'));
    };
    document.head.appendChild(script);
  });
  return loading;
}

/** Swagger UI on `domNode` for the document: "Try it out" on, no outside validator, no deep links. */
export async function mount(o: SwaggerOptions): Promise<SwaggerUi> {
  const bundle = await load();
  return bundle({
    domNode: o.domNode,
    spec: o.spec,
    presets: [bundle.presets.apis],
    layout: 'BaseLayout',
    validatorUrl: null,
    tryItOutEnabled: true,
    deepLinking: false,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
    requestInterceptor: o.requestInterceptor,
    onComplete: o.onComplete,
  });
}
