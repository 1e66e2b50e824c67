// calcbot on the official Node SDK (dingtalk-stream 2.1.5 from npm), for bench/compare.
//
// The SDK has no endpoint setting: it posts to a hard-coded
// https://api.dingtalk.com/v1.0/gateway/connections/open through the shared axios
// instance, so this script rewrites that origin to DINGTALK_OPENAPI_ENDPOINT with an
// axios request interceptor. Everything else is the SDK's robot example: reply by POST
// to the session webhook, then ACK with socketCallBackResponse.
'use strict';

const axios = require('axios');
const { DWClient, TOPIC_ROBOT } = require('dingtalk-stream');

const endpoint = process.env.DINGTALK_OPENAPI_ENDPOINT;
if (endpoint) {
  axios.interceptors.request.use((config) => {
    config.url = config.url.replace('https://api.dingtalk.com', endpoint);
    return config;
  });
}

// A safe evaluator for + - * / % and parentheses (the SDK example uses eval()).
function evaluate(text) {
  const tokens = text.match(/\d+(?:\.\d+)?|[-+*/%()]/g) || [];
  if (tokens.join('') !== text.replace(/\s+/g, '')) throw new Error('not arithmetic');
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  function primary() {
    const t = next();
    if (t === '(') {
      const v = sum();
      if (next() !== ')') throw new Error('unbalanced parentheses');
      return v;
    }
    if (t === '-') return -primary();
    if (t === '+') return primary();
    if (t === undefined || isNaN(Number(t))) throw new Error('unexpected ' + t);
    return Number(t);
  }
  function product() {
    let v = primary();
    while (['*', '/', '%'].includes(peek())) {
      const op = next();
      const r = primary();
      if (op !== '*' && r === 0) throw new Error('division by zero');
      v = op === '*' ? v * r : op === '/' ? v / r : v % r;
    }
    return v;
  }
  function sum() {
    let v = product();
    while (peek() === '+' || peek() === '-') {
      v = next() === '+' ? v + product() : v - product();
    }
    return v;
  }
  const v = sum();
  if (i !== tokens.length) throw new Error('trailing input');
  return v;
}

const client = new DWClient({
  clientId: process.env.DINGTALK_CLIENT_ID,
  clientSecret: process.env.DINGTALK_CLIENT_SECRET,
});

client.registerCallbackListener(TOPIC_ROBOT, async (res) => {
  const message = JSON.parse(res.data);
  const expression = ((message.text && message.text.content) || '').trim();
  let answer;
  try {
    answer = String(evaluate(expression));
  } catch (e) {
    answer = 'Error: ' + e.message;
  }
  const result = await axios({
    url: message.sessionWebhook,
    method: 'POST',
    responseType: 'json',
    data: { msgtype: 'text', text: { content: `Q: ${expression}\nA: ${answer}` } },
  });
  client.socketCallBackResponse(res.headers.messageId, result.data);
});

client.connect();
