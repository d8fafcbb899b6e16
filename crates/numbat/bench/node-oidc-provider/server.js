// panva/oidc-provider configured as close to numbat's Number Verification flow as the library
// allows, as the baseline for `numbat bench --target oidc-provider` (see README.md).
//
// One client (numbat's dev client `demo-app`, private_key_jwt with ES256, ID token ES256, PKCE
// S256 required), an ES256 provider key, the library's in-memory adapter (over an unbounded
// expiring map instead of its 1000-entry LRU), no dev interactions, no logging. numbat needs no login (the network identifies the device), so the interaction below
// logs the device in and grants consent at once, without rendering anything; after that first
// round trip the session cookie makes /auth answer with the code directly.

import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';
// The library's own in-memory adapter (its quick-start default), given an unbounded store below.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

process.env.NODE_ENV ??= 'production';

const PORT = Number(process.env.PORT || 3000);
const HOST = process.env.HOST || '127.0.0.1';
const ISSUER = process.env.ISSUER || `http://${HOST}:${PORT}`;

// numbat's dev client (config/dev.toml); the public half of config/dev/demo-app.key.pem.
const CLIENT = {
  client_id: 'demo-app',
  redirect_uris: ['http://127.0.0.1:9999/callback'],
  response_types: ['code'],
  grant_types: ['authorization_code'],
  scope: 'openid dpv:FraudPreventionAndDetection number-verification:verify',
  token_endpoint_auth_method: 'private_key_jwt',
  token_endpoint_auth_signing_alg: 'ES256',
  id_token_signed_response_alg: 'ES256',
  jwks: {
    keys: [{
      kty: 'EC',
      crv: 'P-256',
      kid: 'demo-app-1',
      alg: 'ES256',
      use: 'sig',
      x: 'EgMEe16Xy5bVFKLwu5Gb0vj8T_tbye_VNfqgfSw_7Uo',
      y: 'izHnk64M7vzATcbAgvOCUyhPQDBlLs0k_1bKYqYYckg',
    }],
  },
};

// The network's view of the devices (numbat's dev static bindings): the device's address names
// the subscriber, as numbat's ingress does.
const BINDINGS = new Map([
  ['127.0.0.1', '+34600000001'],
  ['127.0.0.2', '+34600000002'],
]);

// An ES256 signing key for ID tokens, made at start (numbat's dev keys also live in memory).
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

// The quick-start default keeps everything in an LRU of 1000 entries: at 64 virtual users a
// load test evicts live sessions and grants from it (re-interactions, invalid_grant). This store
// keeps every entry until it expires, like numbat's memory store and like Redis would.
class ExpiringMap {
  #entries = new Map();

  get(key) {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiry !== undefined && e.expiry <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key, value, { maxAge } = {}) {
    const expiry = Number.isFinite(maxAge) ? Date.now() + maxAge : undefined;
    this.#entries.set(key, { value, expiry });
    return this;
  }

  has(key) {
    return this.get(key) !== undefined;
  }

  delete(key) {
    return this.#entries.delete(key);
  }

  sweep() {
    const now = Date.now();
    for (const [key, e] of this.#entries) {
      if (e.expiry !== undefined && e.expiry <= now) this.#entries.delete(key);
    }
  }
}
const store = new ExpiringMap();
const CLOCK_TOLERANCE = 5; // numbat's tokens.clock_skew_s
setInterval(() => store.sweep(), 10_000).unref();

const provider = new Provider(ISSUER, {
  adapter: (model) => new MemoryAdapter(model, store, CLOCK_TOLERANCE),
  clockTolerance: CLOCK_TOLERANCE,
  clients: [CLIENT],
  jwks: { keys: [signingJwk] },
  // Signed cookies, as in production.
  cookies: { keys: [process.env.COOKIE_KEY || 'bench-only-cookie-key-0123456789abcdef'] },
  scopes: ['openid', 'dpv:FraudPreventionAndDetection', 'number-verification:verify'],
  claims: { openid: ['sub'] },
  responseTypes: ['code'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
  },
  // The same lifetimes as numbat's dev config.
  ttl: {
    AccessToken: 300,
    AuthorizationCode: 60,
    IdToken: 300,
    Interaction: 600,
    Session: 24 * 3600,
    Grant: 24 * 3600,
  },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub };
      },
    };
  },
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});

// The interaction: no page. Log the device's subscriber in and grant what the client asked for,
// then send the user agent back to /auth/:uid (303) to finish the authorization.
provider.use(async (ctx, next) => {
  if (ctx.method !== 'GET' || !ctx.path.startsWith('/interaction/')) {
    return next();
  }
  const { prompt, params, session } = await provider.interactionDetails(ctx.req, ctx.res);
  const accountId = session?.accountId ?? BINDINGS.get(ctx.ip);
  if (!accountId) {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, {
      error: 'access_denied',
      error_description: 'the network does not identify this device',
    });
    ctx.status = 303;
    ctx.redirect(returnTo);
    return undefined;
  }
  const grant = new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  const returnTo = await provider.interactionResult(
    ctx.req,
    ctx.res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
});

const server = provider.listen(PORT, HOST, () => {
  console.log(`oidc-provider ${ISSUER} (pid ${process.pid})`);
});
// Keep idle keep-alive connections as long as the load generator's pool does.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
