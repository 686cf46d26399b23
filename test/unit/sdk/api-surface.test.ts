/**
 * The published SDK surface, recorded per plugin API version. Adding,
 * removing or renaming an export of @algd/sdk or @algd/sdk/testing changes
 * what third-party plugins build against: it must come with a new
 * SDK_API_VERSION and a new entry here (semver: additions bump the minor,
 * removals and changes the major), never silently.
 */

import * as sdk from '@algd/sdk';
import * as testing from '@algd/sdk/testing';

const SURFACE: Record<string, { sdk: string[]; testing: string[] }> = {
  '0.1.0': {
    sdk: [
      'DEFAULT_MAX_LINE_LENGTH', 'DEFAULT_MAX_MESSAGE_SIZE', 'FramingError', 'LineFramer', 'NetValueError', 'PluginDefinitionError',
      'SDK_API_VERSION', 'SipMessageFramer', 'apiVersionSatisfies', 'checkDatagram', 'checkSipDatagram', 'createStreamFramer',
      'definePlugin', 'endpoint', 'findFtpHostPort', 'formatEndpoint', 'formatEprtArgument', 'formatEpsvPort', 'formatFtpHostPort',
      'formatHost', 'formatHostPort', 'ipAddress', 'ipFamily', 'ipFromBytes', 'ipToBytes', 'isApiVersionRange', 'isPort',
      'parseEprtArgument', 'parseEpsvReply', 'parseFtpHostPort', 'parseHostPort', 'port', 'sameAddress', 'sameEndpoint',
    ],
    testing: ['InMemoryHostServices', 'PeerRecord', 'PluginTestSession', 'TEST_SESSION_DEFAULTS', 'resolveTestSession'],
  },
};

describe('the published SDK surface', () => {
  it('is the one recorded for SDK_API_VERSION', () => {
    const recorded = SURFACE[sdk.SDK_API_VERSION];
    expect(recorded).toBeDefined();
    expect(Object.keys(sdk).sort()).toEqual(recorded!.sdk);
    expect(Object.keys(testing).sort()).toEqual(recorded!.testing);
  });

  it('accepts plugins asking for this API and refuses other majors', () => {
    expect(sdk.apiVersionSatisfies('^0.1.0')).toBe(true);
    expect(sdk.apiVersionSatisfies('^0.2.0')).toBe(false);
    expect(sdk.apiVersionSatisfies('^1.0.0')).toBe(false);
    expect(sdk.apiVersionSatisfies('not a range')).toBe(false);
    // semver reads an empty range as "any"; a plugin must say what it needs.
    expect(sdk.apiVersionSatisfies('')).toBe(false);
  });
});
