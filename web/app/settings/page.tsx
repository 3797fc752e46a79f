"use client";

import { Button, HStack, Input, Text } from "@chakra-ui/react";
import { useEffect, useState } from "react";
import { useClients } from "../../lib/api";
import { useI18n } from "../../lib/i18n";
import { useSettings } from "../../lib/settings";
import { Field, Section } from "../../lib/ui";
import { Keys } from "./Keys";
import { SignIn } from "./SignIn";

export default function SettingsPage() {
  const { t } = useI18n();
  const [settings, save] = useSettings();
  const { api, cacheKey, user } = useClients();
  const [edgeUrl, setEdgeUrl] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [language, setLanguage] = useState("");
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (settings) {
      setEdgeUrl(settings.edgeUrl);
      setApiKey(settings.apiKey);
      setLanguage(settings.language);
    }
  }, [settings]);
  return (
    <>
      <Section title={t("settings.title")} level={1}>
        <form id="settings" onSubmit={(e) => { e.preventDefault(); save({ edgeUrl, apiKey, language }); setSaved(true); }}>
          <Field id="edge-url" label={t("settings.edgeUrl")}>
            <Input type="url" value={edgeUrl} onChange={(e) => { setEdgeUrl(e.target.value); setSaved(false); }} />
          </Field>
          <Field id="api-key" label={t("settings.apiKey")}>
            <Input type="password" autoComplete="off" value={apiKey}
                   onChange={(e) => { setApiKey(e.target.value); setSaved(false); }} />
          </Field>
          <Field id="default-language" label={t("settings.defaultLanguage")}>
            <Input type="text" value={language} onChange={(e) => { setLanguage(e.target.value); setSaved(false); }} />
          </Field>
          <HStack mt={3}>
            <Button type="submit" colorScheme="blue">{t("common.save")}</Button>
            {saved ? <Text as="span" id="saved" className="muted" color="green.600" fontSize="sm">{t("settings.saved")}</Text> : null}
          </HStack>
        </form>
      </Section>
      {settings ? <SignIn edgeUrl={settings.edgeUrl} /> : null}
      {api && (settings?.apiKey || user) ? <Keys api={api} cacheKey={cacheKey} /> : null}
    </>
  );
}
