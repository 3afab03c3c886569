/** The version of npm `swagger-ui-dist` whose files the build copied into `assets/` (vite.config.ts). */
declare const __SWAGGER_UI_VERSION__: string;
