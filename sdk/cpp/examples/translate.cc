// Example: translate text with NmtService.TranslateText through the edge (Envoy).
//
//   AI4VC_API_KEY=... ./translate 127.0.0.1:8080 hi ur "text"
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "ai4vc/nmt/v1/nmt_service.grpc.pb.h"

int main(int argc, char** argv) {
  const char* key = std::getenv("AI4VC_API_KEY");
  if (key == nullptr || *key == '\0' || argc < 5) {
    std::cerr << "usage: AI4VC_API_KEY=... translate HOST:PORT FROM TO TEXT...\n";
    return 2;
  }
  auto channel = grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  auto nmt = ai4vc::nmt::v1::NmtService::NewStub(channel);

  ai4vc::nmt::v1::TranslateTextRequest request;
  request.set_source_language_code(argv[2]);
  request.set_target_language_code(argv[3]);
  for (int i = 4; i < argc; ++i) request.add_contents(argv[i]);

  grpc::ClientContext context;
  context.AddMetadata("x-api-key", key);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  ai4vc::nmt::v1::TranslateTextResponse answer;
  grpc::Status status = nmt->TranslateText(&context, request, &answer);
  if (!status.ok()) {
    std::cerr << "error: code " << status.error_code() << ": " << status.error_message() << "\n";
    return 1;
  }
  for (const auto& translation : answer.translations()) std::cout << translation.translated_text() << "\n";
  return 0;
}
