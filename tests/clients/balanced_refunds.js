// Drives Balanced's own Node client (balanced-official 0.3.x) through each of its refund
// functions against the mock, as an app would. Every call's error or result goes, in order, to
// the JSON file named by the last argument; the Python test checks them and the mock's state.
//
// Usage: node balanced_refunds.js CLIENT_FOLDER SECRET MARKETPLACE_URI RESULTS_FILE
// with BALANCED_DEBUG, BALANCED_DEBUG_NO_HTTPS, BALANCED_DEBUG_HOST and BALANCED_DEBUG_PORT
// set (the client's own switches for a host other than api.balancedpayments.com).
"use strict";
const fs = require("fs");
const { promisify } = require("util");

const [clientFolder, secret, marketplaceUri, resultsFile] = process.argv.slice(2);
const nbalanced = require(clientFolder);
const api = new nbalanced({ marketplace_uri: marketplaceUri, secret: secret });
const calls = [];

async function call(name, fn, ...args) {
  try {
    calls.push({ name, result: await promisify(fn)(...args) });
  } catch (error) {
    calls.push({ name, error });
  }
  return calls[calls.length - 1];
}

async function main() {
  const debits = (await call("Debits.list", api.Debits.list.bind(api.Debits), { limit: 50 })).result.items;
  const debit = (id) => debits.find((d) => d.id === id);

  // The whole rest of a debit: a POST to its refunds_uri, no body.
  await call("Debits.refund", api.Debits.refund.bind(api.Debits), debit("WDdemo1254").uri);
  // Nothing left of it now: the vendor's error.
  await call("Debits.refund again", api.Debits.refund.bind(api.Debits), debit("WDdemo1254").uri);

  const created = await call(
    "Refunds.create", api.Refunds.create.bind(api.Refunds),
    debit("WDdemo5000").uri, { amount: 1000, description: "partial", meta: { order: "1" } });
  const uri = created.result.uri;
  await call("Refunds.get", api.Refunds.get.bind(api.Refunds), uri);
  await call("Refunds.update", api.Refunds.update.bind(api.Refunds), uri,
    { description: "changed", meta: { order: "2" } });
  await call("Refunds.list", api.Refunds.list.bind(api.Refunds), { limit: 10, offset: 0 });

  const buyer = (await call("Accounts.get", api.Accounts.get.bind(api.Accounts),
    `${marketplaceUri}/accounts/ACdemobuyer`)).result;
  const account = api.Accounts.nbalanced(buyer);
  await call("account Refunds.create", account.Refunds.create.bind(account.Refunds),
    debit("WDdemo5000").uri, { amount: 500 });
  await call("account Refunds.list", account.Refunds.list.bind(account.Refunds), {});
  await call("Refunds.create too much", api.Refunds.create.bind(api.Refunds),
    debit("WDdemo431").uri, { amount: 432 });
}

main()
  .catch((error) => calls.push({ name: "script", error: String(error && error.stack || error) }))
  .finally(() => fs.writeFileSync(resultsFile, JSON.stringify(calls, null, 2)));
