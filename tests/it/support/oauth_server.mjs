// A real OAuth 2.0 authorization server for gocred's tests: the npm package `oidc-provider`
// (certified OpenID Connect / OAuth 2.0 implementation), installed by install/test-deps.sh.
// Started by tests/it/support/oauth_server.rs on 127.0.0.1 with:
//   - the RFC 8628 device authorization grant (dev interactions: any login, one consent click),
//   - refresh tokens issued always and rotated on every use (reuse => invalid_grant and the
//     whole grant revoked, as GitHub and GitLab do),
//   - RFC 7009 revocation, RFC 7662 introspection (to check from a test whether a token still
//     works),
//   - a public client `gocred-test` (no client secret, like a CLI).
// Env: OIDC_PROVIDER_MAIN (path of oidc-provider's lib/index.js), PORT, ACCESS_TTL (seconds).
// Test-only additions (not part of the provider): `interval: 1` in the device authorization
// answer so polls are quick, and GET /__stats with what the server did. Hostile-server modes:
// SLOW_DOWN_ONCE=1 answers the first device-code poll with RFC 8628 `slow_down`;
// EVIL_VERIFICATION_URI=<url> replaces the verification URI the server hands out.
const { default: Provider } = await import(process.env.OIDC_PROVIDER_MAIN);
const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const stats = { device_code: 0, refresh_token: 0, errors: [], revoked: 0, revocation_requests: 0, tokens_issued: 0, polls: [] };
let slowDownPending = process.env.SLOW_DOWN_ONCE === '1';

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'gocred-test',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  }],
  features: {
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: true },
  },
  scopes: ['openid', 'offline_access', 'read_repository'],
  issueRefreshToken: async () => true,
  rotateRefreshToken: true,
  ttl: {
    AccessToken: Number(process.env.ACCESS_TTL || 3600),
    RefreshToken: 86400,
    DeviceCode: 600,
    Grant: 86400,
    Interaction: 3600,
    Session: 86400,
  },
  cookies: { keys: ['gocred-test-cookie-key'] },
  findAccount: async (ctx, id) => ({ accountId: id, async claims() { return { sub: id }; } }),
});

provider.on('grant.success', (ctx) => {
  const g = ctx.oidc.params.grant_type;
  if (g === 'refresh_token') stats.refresh_token += 1;
  else if (g && g.endsWith('device_code')) stats.device_code += 1;
  stats.tokens_issued += 1;
});
provider.on('grant.error', (ctx, err) => { stats.errors.push(err.error || String(err)); });
provider.on('grant.revoked', () => { stats.revoked += 1; });

provider.use(async (ctx, next) => {
  if (ctx.path === '/__stats') {
    ctx.body = stats;
    return;
  }
  if (ctx.path === '/token' && ctx.method === 'POST') {
    stats.polls.push(Date.now());
    if (slowDownPending) {
      slowDownPending = false;
      ctx.status = 400;
      ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly' };
      return;
    }
  }
  await next();
  if (ctx.path === '/token/revocation' && ctx.method === 'POST') stats.revocation_requests += 1;
  if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
    ctx.body = { ...ctx.body, interval: 1 };
    if (process.env.EVIL_VERIFICATION_URI) {
      ctx.body.verification_uri = process.env.EVIL_VERIFICATION_URI;
      ctx.body.verification_uri_complete = `${process.env.EVIL_VERIFICATION_URI}?user_code=${ctx.body.user_code}`;
    }
  }
});

provider.listen(port, '127.0.0.1', () => { console.log(`listening ${issuer}`); });
