/**
 * sipp scenarios for the lab, as XML text (dist/ carries no XML files; the
 * runner writes them into the lab's work dir). Four user agents:
 *
 * - the caller: a phone behind the gateway calls out (INVITE with SDP,
 *   ACK, plays its audio) and waits for the other side to hang up;
 * - the callee: a UA on the public side answers with SDP, plays its audio,
 *   holds the call, then hangs up; over UDP its BYE goes to the Contact
 *   the INVITE named (`setdest`), so it arrives only if that Contact is
 *   reachable: a NAT without ALG leaves the phone's private address there;
 * - the registering phone: REGISTERs with a registrar on the public side,
 *   then waits for an incoming call, answers it with SDP, plays its audio
 *   and waits for the BYE;
 * - the registrar: takes the REGISTER, answers 200, then calls the phone
 *   at the registered Contact (`setdest`), plays its audio, hangs up.
 *
 * The agents on the public side log what the gateway let them see, one
 * `seen NAME=ADDRESS:PORT` line each (`contact`, `sdp`: the Contact's and
 * the SDP's c=/m= address and port), so a test can tell a rewritten
 * message from an untouched one. Media ports come from `[auto_media_port]`
 * (sipp's -mp plus 4 per call number), so concurrent calls announce and
 * use distinct RTP ports, as separate phones would.
 */

/** The audio a side plays once the call is up: a pcap of RTP packets, or none. */
export interface MediaPlay {
  /** sipp's `play_pcap_audio` file (its pcaps live in /usr/share/sip-tester). */
  readonly pcap?: string;
}

export interface HangUpOptions extends MediaPlay {
  /** How long the call is held before the BYE, from the moment the side starts playing. */
  readonly holdMs: number;
  /**
   * Where the BYE goes: `contact` sends it to the Contact the peer named
   * (sipp `setdest`; UDP only, sipp changes TCP destinations only with a
   * socket per call); `connection` sends it back over the connection the
   * call came on (SIP over TCP reuses it, RFC 3261 §18).
   */
  readonly byeTo: 'contact' | 'connection';
}

const XML_HEAD = '<?xml version="1.0" encoding="ISO-8859-1" ?>';

/** A message to send, in sipp's CDATA form (sipp fixes line ends and computes [len]). */
function send(message: string, opts: { retrans?: boolean } = {}): string {
  const lines = message.trim().split('\n').map((l) => `      ${l.trim()}`);
  return [`  <send${opts.retrans === true ? ' retrans="500"' : ''}>`, '    <![CDATA[', '', ...lines, '', '    ]]>', '  </send>'].join('\n');
}

/** Plays `pcap` from the call's media port to the address and port of the peer's SDP (nothing without a pcap). */
function play(media: MediaPlay): string {
  if (media.pcap === undefined) return '';
  if (/["<>&]/.test(media.pcap)) throw new Error(`pcap path not usable in a scenario: ${media.pcap}`);
  return `  <nop><action><exec play_pcap_audio="${media.pcap}"/></action></nop>`;
}

/** An offer or answer: one PCMA audio stream at the media address and this call's port. */
const SDP = `
v=0
o=- 53655765 2353687637 IN IP[media_ip_type] [media_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [auto_media_port] RTP/AVP 8
a=rtpmap:8 PCMA/8000
`;

/**
 * ereg actions: the Contact's host and port into contact_host/contact_port,
 * and the logged `seen contact=` line. `check_it`: a message without a
 * Contact with an explicit port fails the call.
 */
const CATCH_CONTACT = [
  '      <ereg regexp="&lt;sips?:[^@&gt;]*@([^:;&gt;]+):([0-9]+)" search_in="hdr" header="Contact:" check_it="true" assign_to="contact_all,contact_host,contact_port"/>',
  '      <log message="seen contact=[$contact_host]:[$contact_port]"/>',
].join('\n');

/** ereg actions: the SDP's connection address and audio port, logged as `seen sdp=`. */
const CATCH_SDP = [
  '      <ereg regexp="c=IN IP[46] ([0-9a-fA-F.:]+)" search_in="body" check_it="true" assign_to="sdp_c_all,sdp_host"/>',
  '      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="sdp_m_all,sdp_port"/>',
  '      <log message="seen sdp=[$sdp_host]:[$sdp_port]"/>',
].join('\n');

/** The peer's From tag (for the To of our own in-dialog requests). */
const CATCH_FROM_TAG = '      <ereg regexp=";tag=([^;&gt; ]+)" search_in="hdr" header="From:" check_it="true" assign_to="from_tag_all,peer_from_tag"/>';

/** sipp refuses variables assigned but never used; whole-match captures are kept for the record. */
const reference = (vars: readonly string[]): string => `  <Reference variables="${vars.join(',')}"/>`;

function scenario(name: string, body: readonly string[]): string {
  return [XML_HEAD, `<scenario name="${name}">`, ...body.filter((s) => s !== ''), '</scenario>', ''].join('\n');
}

/** The phone behind the gateway calls [service]@remote, plays its audio, and waits for the BYE. */
export function callerScenario(opts: MediaPlay): string {
  return scenario('algd lab caller', [
    send(`
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:phone@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:phone@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]
      ${SDP}`, { retrans: true }),
    '  <recv response="100" optional="true"/>',
    '  <recv response="180" optional="true"/>',
    '  <recv response="200" rtd="true"/>',
    send(`
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:phone@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:phone@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0
    `),
    play(opts),
    '  <recv request="BYE"/>',
    send(`
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:phone@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    `),
  ]);
}

/** The BYE of the side that hangs up; `target` is the URI host:port it names. */
function bye(target: string, from: string, toTag: string, cseq: number, callId: string): string {
  return send(`
      BYE sip:phone@${target} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:${from}@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To: <sip:phone@${target}>;tag=${toTag}
      Call-ID: ${callId}
      CSeq: ${cseq} BYE
      Max-Forwards: 70
      Content-Length: 0
    `, { retrans: true });
}

const SET_DEST_TO_CONTACT = '  <nop><action><setdest host="[$contact_host]" port="[$contact_port]" protocol="[transport]"/></action></nop>';

/** The UA on the public side: answers with SDP, plays its audio, holds the call, hangs up. */
export function calleeScenario(opts: HangUpOptions): string {
  return scenario('algd lab callee', [
    '  <recv request="INVITE">',
    '    <action>',
    CATCH_CONTACT,
    CATCH_SDP,
    CATCH_FROM_TAG,
    '    </action>',
    '  </recv>',
    send(`
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    `),
    send(`
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]
      ${SDP}`, { retrans: true }),
    '  <recv request="ACK" rtd="true" crlf="true"/>',
    play(opts),
    `  <pause milliseconds="${opts.holdMs}"/>`,
    opts.byeTo === 'contact' ? SET_DEST_TO_CONTACT : '',
    bye('[$contact_host]:[$contact_port]', '[service]', '[$peer_from_tag]', 1, '[call_id]'),
    '  <recv response="200"/>',
    reference(['contact_all', 'sdp_c_all', 'sdp_m_all', 'from_tag_all']),
  ]);
}

/** The phone behind the gateway registers, then takes an incoming call and waits for its BYE. */
export function registeringPhoneScenario(opts: MediaPlay): string {
  return scenario('algd lab registering phone', [
    send(`
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:phone@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:phone@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:phone@[local_ip]:[local_port];transport=[transport]>
      Expires: 300
      Max-Forwards: 70
      Content-Length: 0
    `, { retrans: true }),
    '  <recv response="200"/>',
    '  <recv request="INVITE"/>',
    send(`
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:phone@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]
      ${SDP}`, { retrans: true }),
    '  <recv request="ACK" crlf="true"/>',
    play(opts),
    '  <recv request="BYE"/>',
    send(`
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    `),
  ]);
}

/**
 * The incoming call's Call-ID. sipp ties messages to a call by the part of
 * the Call-ID after `///`, so the INVITE can have a Call-ID of its own (as
 * a real registrar's call would) and still belong to the REGISTER's call.
 */
const INCOMING_CALL_ID = 'incoming///[call_id]';

/** The registrar on the public side: takes the REGISTER, then calls the phone at its registered Contact. */
export function registrarScenario(opts: Omit<HangUpOptions, 'byeTo'>): string {
  const target = '[$contact_host]:[$contact_port]';
  return scenario('algd lab registrar', [
    '  <recv request="REGISTER">',
    '    <action>',
    CATCH_CONTACT,
    '    </action>',
    '  </recv>',
    send(`
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:phone@${target}>;expires=300
      Content-Length: 0
    `),
    SET_DEST_TO_CONTACT,
    send(`
      INVITE sip:phone@${target} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag02[call_number]
      To: <sip:phone@${target}>
      Call-ID: ${INCOMING_CALL_ID}
      CSeq: 1 INVITE
      Contact: <sip:caller@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]
      ${SDP}`, { retrans: true }),
    '  <recv response="100" optional="true"/>',
    '  <recv response="180" optional="true"/>',
    '  <recv response="200">',
    '    <action>',
    CATCH_SDP,
    '    </action>',
    '  </recv>',
    send(`
      ACK sip:phone@${target} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag02[call_number]
      To: <sip:phone@${target}>[peer_tag_param]
      Call-ID: ${INCOMING_CALL_ID}
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    `),
    play(opts),
    `  <pause milliseconds="${opts.holdMs}"/>`,
    send(`
      BYE sip:phone@${target} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag02[call_number]
      To: <sip:phone@${target}>[peer_tag_param]
      Call-ID: ${INCOMING_CALL_ID}
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0
    `, { retrans: true }),
    '  <recv response="200"/>',
    reference(['contact_all', 'sdp_c_all', 'sdp_m_all']),
  ]);
}
