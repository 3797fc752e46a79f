# Example: translate text with NmtService.TranslateText through the edge (Envoy).
#
#   AI4VC_API_KEY=... ruby -Isdk/ruby/lib sdk/ruby/examples/translate.rb 127.0.0.1:8080 hi ur "text"
#
# Prints one translation per line; exits 1 with the error's code and ErrorInfo reason on failure.
require "ai4vc/nmt/v1/nmt_service_services_pb"
require "google/rpc/error_details_pb"

key = ENV.fetch("AI4VC_API_KEY", "")
if key.empty? || ARGV.length < 4
  warn "usage: AI4VC_API_KEY=... translate.rb HOST:PORT FROM TO TEXT..."
  exit 2
end
target, source, dest, *texts = ARGV

stub = Ai4vc::Nmt::V1::NmtService::Stub.new(target, :this_channel_is_insecure, timeout: 15)
begin
  answer = stub.translate_text(
    Ai4vc::Nmt::V1::TranslateTextRequest.new(contents: texts, source_language_code: source,
                                             target_language_code: dest),
    metadata: { "x-api-key" => key }
  )
  answer.translations.each { |t| puts t.translated_text }
rescue GRPC::BadStatus => e
  reason = nil
  fields = []
  status = e.to_rpc_status
  status&.details&.each do |any|
    if any.type_url.end_with?("google.rpc.ErrorInfo")
      reason = Google::Rpc::ErrorInfo.decode(any.value).reason
    elsif any.type_url.end_with?("google.rpc.BadRequest")
      fields += Google::Rpc::BadRequest.decode(any.value).field_violations.map { |v| "#{v.field}: #{v.description}" }
    end
  end
  warn "error: #{e.class.name.split('::').last} #{reason}: #{e.details}"
  fields.each { |f| warn "  #{f}" }
  exit 1
end
